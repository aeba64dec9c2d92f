"""Issue 9 on real trained models shipped in PyPI wheels (installed with --no-deps by .ci/setup): PP-OCR's
det/rec/cls from rapidocr-onnxruntime (opset 11/12, dynamic dims, weights in Constant nodes), magika's
file-type classifier (int32 byte input), faster-whisper's silero VAD v6 (LSTM), every ONNX model of
openwakeword 0.4.0 (a mel front end, an embedding CNN, Gemm/LSTM/If classifiers with 1-element outputs, an
ORT-optimised silero VAD with If bodies) and silero-vad's op15 model. Plus the rules they exposed, on small
models: the inputs file is part of every cache key, a pre-quantized model is labelled by what it contains, and
a requested precision that does not apply fails its own row while the others run."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from markupsafe import escape
from onnx import TensorProto, helper, numpy_helper

from benchbench.results.store import Store
from benchbench.workloads.byo import load_byo, parse_input
from benchbench.workloads.byo_inputs import sample_feeds
from benchbench.workloads.variants import make_variant


def _pkg(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"pip install --no-deps {name} (.ci/setup)"
    return Path(next(iter(spec.submodule_search_locations)))


def _corpus() -> list[tuple[str, Path, dict[str, str], dict[str, str]]]:
    """(label, file, --shape values, --input values) for every model of the corpus."""
    ocr = _pkg("rapidocr_onnxruntime") / "models"
    oww = _pkg("openwakeword") / "resources" / "models"
    out = [("ppocr-det", ocr / "ch_PP-OCRv4_det_infer.onnx", {"x": "1x3x96x96"}, {}),
           ("ppocr-rec", ocr / "ch_PP-OCRv4_rec_infer.onnx", {"x": "1x3x48x96"}, {}),
           ("ppocr-cls", ocr / "ch_ppocr_mobile_v2.0_cls_infer.onnx", {"x": "1x3x48x192"}, {}),
           ("silero-op15", _pkg("silero_vad") / "data" / "silero_vad_16k_op15.onnx",
            {"input": "1x512", "state": "2x1x128"}, {"sr": "16000"})]
    out += [("magika", _pkg("magika") / "models" / "standard_v3_3" / "model.onnx", {"bytes": "1x2048"},
             {"bytes": "randint:0:255"}),
            ("vad-v6", _pkg("faster_whisper") / "assets" / "silero_vad_v6.onnx", {"input": "1x576"}, {})]
    dyn = {"melspectrogram": {"input": "1x1280"}, "embedding_model": {"input_1": "1x76x32x1"},
           "hey_mycroft_v0.1": {"input_1": "1x16x96"}, "silero_vad": {"input": "1x480", "h": "2x1x64",
                                                                      "c": "2x1x64"}}
    for f in sorted(oww.glob("*.onnx")):
        out.append((f"oww-{f.stem}", f, dyn.get(f.stem, {}), {"sr": "16000"} if f.stem == "silero_vad"
                    else {}))
    return out


def _bb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BENCHBENCH_CACHE=str(cwd / "cache"))
    return subprocess.run([sys.executable, "-m", "benchbench", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=1500, check=False)


_PLAIN_LOOP = """
import sys, time, numpy as np, onnxruntime as ort
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
with np.load(sys.argv[2]) as data:
    feeds = {k: data[k] for k in data.files}
names = [o.name for o in sess.get_outputs()]
t0 = time.perf_counter()
while time.perf_counter() - t0 < 0.3:  # warm up: the runtime's pool, caches and the core's clock
    sess.run(names, feeds)
number = 1
while True:
    t0 = time.perf_counter()
    for _ in range(number):
        sess.run(names, feeds)
    if time.perf_counter() - t0 >= 0.002:
        break
    number *= 2
out = []
for _ in range(25):
    t0 = time.perf_counter()
    for _ in range(number):
        sess.run(names, feeds)
    out.append((time.perf_counter() - t0) / number)
print(float(np.median(out)))
"""


def _plain_ort_p50(path: Path, feeds: dict[str, np.ndarray], tmp: Path) -> float:
    """Median per-call time of a plain onnxruntime loop on the same file and inputs, in a fresh process of its
    own (as benchbench's worker is), with default session options (as benchbench's backend uses them)."""
    np.savez(tmp / "feeds.npz", **feeds)
    res = subprocess.run([sys.executable, "-c", _PLAIN_LOOP, str(path), str(tmp / "feeds.npz")],
                         capture_output=True, text=True, timeout=300, check=True)
    return float(res.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_real_model_corpus_end_to_end(tmp_path: Path) -> None:
    corpus = _corpus()
    assert len(corpus) >= 13
    lines = ["name: real-corpus",
             "timing: {warmup_s: 0.05, min_value_s: 0.002, rounds: 5, values_per_round: 5, max_timed_s: 1.5}",
             "sampling: {interval_s: 0.05, measure_overhead: false}", "jobs:"]
    for _, path, shapes, inputs in corpus:
        params = {"model": str(path), "calibration_samples": 8, "validation_samples": 4}
        if shapes:
            params["shapes"] = [f"{k}={v}" for k, v in shapes.items()]
        if inputs:
            params["inputs"] = [f"{k}={v}" for k, v in inputs.items()]
        lines.append("  - {workload: byo, precisions: [fp32, fp16, int8-static], "
                     f"params: {json.dumps(params)}}}")
    (tmp_path / "corpus.yaml").write_text("\n".join(lines) + "\n")
    res = _bb("run", "--suite", "corpus.yaml", "--db", "c.db", "--json", "-o", "c.html", cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr[-2000:]
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    run = Store(tmp_path / "c.db").load_run(json.loads(res.stdout)["run_id"])
    html = (tmp_path / "c.html").read_text()
    ratios: dict[str, float] = {}
    interleaved: dict[str, float] = {}
    checked = 0
    for label, path, shapes, inputs in corpus:
        mine = [j for j in run.jobs if j.workload == f"byo:{path.stem}"]
        ref = next(j for j in mine if j.details.get("variant", {}).get("precision") == "fp32")
        assert ref.status == "ok" and ref.precision == "fp32", (label, ref.reason)
        v = ref.details["variant"]
        # the job ran the user's file: the as-given facts name its sha256 and no transform made it
        assert v["tool"]["tool"] == "none: the model as given" and not v["as_given"]["transforms"], label
        assert v["sha256"] and v["as_given"]["sha256"] == _sha256(path), label
        for j in mine:
            assert j.status == "ok" or (j.reason or "").startswith("not applicable:"), (label, j.precision,
                                                                                        j.reason)
        if v["as_given"]["opset"] < 13:  # the PP-OCR models: int8-static works after the opset upgrade
            int8 = next(j for j in mine if j.precision == "int8-static")
            assert int8.status == "ok", (label, int8.reason)
            steps = [s["transform"] for s in int8.details["variant"]["transforms"]["main"]]
            assert any(s.startswith(f"opset {v['as_given']['opset']} → 13") for s in steps), steps
        n_outputs = len(onnx.load(str(path), load_external_data=False).graph.output)
        for j in (j for j in mine if j.status == "ok"):
            fid = j.details["variant"]["validation"]["main"]["fidelity"]
            assert fid["outputs_validated"] == n_outputs, label
            if fid["elements"] < 16:  # a 1-element output never shows a cosine
                assert j.value("fidelity.cosine") is None, (label, j.precision)
            # the report names the worst output
            assert escape(repr(fid["output"])) in html, (label, fid["output"])
        interleaved[label] = ref.value("latency.p50") or 0.0
    # the timer against a plain onnxruntime loop on the same file and inputs, measured in this test: the fp32
    # job as given on its own (no interleaving partners), then the plain loop in a fresh process of its own
    # (alternating, at least twice, the lower median of each side kept: on a shared VM a process can land on a
    # core that is 30 % slower for a while, which says nothing about the timer; a model still outside the
    # tolerance is measured again, up to twice)
    best: dict[str, tuple[float, float, bool]] = {}
    todo = list(corpus)
    for attempt in range(4):  # two passes over all; up to two more over the models still outside it
        only = "\n".join(ln for ln in lines if not ln.startswith("  - ")
                         or any(str(p) in ln for _, p, _, _ in todo))
        (tmp_path / "fp32.yaml").write_text(only.replace("[fp32, fp16, int8-static]", "[fp32]") + "\n")
        res = _bb("run", "--suite", "fp32.yaml", "--db", "c.db", "--json", "--no-report", cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
        alone = Store(tmp_path / "c.db").load_run(json.loads(res.stdout)["run_id"])
        for label, path, shapes, inputs in todo:
            ref = next(j for j in alone.jobs if j.workload == f"byo:{path.stem}")
            params = load_byo(path, {k: [int(d) for d in s.split("x")] for k, s in shapes.items()},
                              {k: parse_input(f"{k}={x}")[1] for k, x in inputs.items()},
                              cache_dir=tmp_path / "t").params
            plain = _plain_ort_p50(path, sample_feeds(params, "validation", 0, 1)[0], tmp_path)
            bb_p50 = ref.value("latency.p50") or 0.0
            contended = bool((ref.details.get("contention") or {}).get("contended"))
            was = best.get(label, (math.inf, math.inf, True))
            best[label] = (min(was[0], bb_p50), min(was[1], plain), was[2] and contended)
        if attempt >= 1:
            todo = [c for c in todo if not _close(*best[c[0]])]
            if not todo:
                break
    for label, (bb_p50, plain, contended) in best.items():
        ratio = bb_p50 / plain
        ratios[label] = ratio
        interleaved[label] /= plain
        checked += not contended
    off = {k: r for k, r in ratios.items() if not _close(*best[k])}
    summary = {"fp32_p50_over_plain_onnxruntime_p50": {k: round(v, 4) for k, v in ratios.items()},
               "checked_uncontended": checked, "models": len(ratios),
               "interleaved_fp32_p50_over_plain": {k: round(v, 4) for k, v in interleaved.items()}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    # the fp32 job as given times like a plain loop: every uncontended model, but on a shared 2-core VM one
    # process in a few lands on a core that is 20-30 % slower for seconds (seen: either side, any model), so
    # up to 2 models may stay outside the tolerance after four alternating measurements; more means the timer
    # is off. No uncontended model, outlier or not, may be off by OUTLIER_FACTOR or more (a contended one is
    # not judged: on a busy machine its ratio was seen anywhere in 0.26-2.4).
    far = {k: r for k, r in ratios.items() if not best[k][2] and not 1 / OUTLIER_FACTOR < r < OUTLIER_FACTOR}
    assert len(off) <= 2 and not far, (off, far)


#: how far the fp32 job may sit from the plain loop in this test. On a quiet machine the corpus lands within
#: ±6 % (14 of 15 models, perf-results/real_model_corpus.json); on a shared 2-core CI VM whole processes run
#: 20-30 % slower or faster for seconds, so the gate here is ±25 % for all but 2 uncontended models and
#: OUTLIER_FACTOR for every one: together they catch a timer that measures something else (the 2-8x errors
#: seen before the warm-round/quiet-pool fixes, on one model or on many), and the file keeps the ratios.
TOLERANCE = 0.25
#: the bound for every uncontended model, the 2 allowed outside TOLERANCE included: strictly within
#: 1/1.5-1.5x the plain loop (a slow core costs 20-30 %; a 2x timer error on one model fails)
OUTLIER_FACTOR = 1.5
#: the ratios, like tests/perf's results: BENCHBENCH_PERF_OUT (a folder), default perf-results/
OUT = Path(os.environ.get("BENCHBENCH_PERF_OUT", "perf-results")) / "real_model_corpus.json"


def _close(bb_p50: float, plain: float, contended: bool) -> bool:
    """Within the tolerance — or within 3 µs for micro-models (a 16 µs call: the Python call path alone
    differs by that much between two loops) — or not judged: the job ran contended."""
    return contended or 1 - TOLERANCE <= bb_p50 / plain <= 1 / (1 - TOLERANCE) or abs(bb_p50 - plain) <= 3e-6


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dynamic_int8_quantizes_an_lstm_with_constant_weights(tmp_path: Path) -> None:
    vad = _pkg("faster_whisper") / "assets" / "silero_vad_v6.onnx"
    art = load_byo(vad, {"input": [1, 576]}, cache_dir=tmp_path)
    v = make_variant(art, "int8-dynamic", cache_dir=tmp_path, n_calibration=4, n_validation=3)
    assert v.status == "ok", v.reason
    assert v.validation["main"]["precision_ops"] == {"com.microsoft.DynamicQuantizeLSTM": 1}
    assert v.validation["main"]["fidelity"]["outputs_validated"] == 3


def _mlp(path: Path, opset: int = 18) -> Path:
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    w1 = numpy_helper.from_array(rng.standard_normal((32, 64)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((64, 8)).astype(np.float32), "w2")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["h"]),
                           helper.make_node("Relu", ["h"], ["r"]),
                           helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp", [x], [y], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_the_inputs_file_is_part_of_every_cache_key(tmp_path: Path) -> None:
    model = _mlp(tmp_path / "mlp.onnx")
    npz = tmp_path / "x.npz"
    np.savez(npz, x=np.random.default_rng(1).standard_normal((8, 1, 32)).astype(np.float32))
    art = load_byo(model, inputs_npz=npz, cache_dir=tmp_path / "c")
    first = make_variant(art, "int8-static", cache_dir=tmp_path / "c", n_calibration=4, n_validation=2)
    again = make_variant(load_byo(model, inputs_npz=npz, cache_dir=tmp_path / "c"), "int8-static",
                         cache_dir=tmp_path / "c", n_calibration=4, n_validation=2)
    assert first.status == "ok" and again.from_cache and again.path == first.path
    np.savez(npz, x=np.random.default_rng(2).standard_normal((8, 1, 32)).astype(np.float32) * 10)
    changed = load_byo(model, inputs_npz=npz, cache_dir=tmp_path / "c")
    assert changed.params["npz_sha256"] != art.params["npz_sha256"]
    rebuilt = make_variant(changed, "int8-static", cache_dir=tmp_path / "c", n_calibration=4, n_validation=2)
    assert not rebuilt.from_cache and rebuilt.path != first.path
    assert rebuilt.extra["calibration"]["source"] == "x: real samples from the --inputs file"


@pytest.mark.slow
def test_a_pre_quantized_model_is_labelled_by_what_it_contains(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(_mlp(tmp_path / "mlp.onnx")), str(tmp_path / "q.onnx"), weight_type=QuantType.QInt8)
    res = _bb("run", "--model", "q.onnx", "--precision", "fp32", "--precision", "int8-static", "--db", "q.db",
              "--json", "-o", "q.html", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    run = Store(tmp_path / "q.db").load_run(json.loads(res.stdout)["run_id"])
    by = {j.precision: j for j in run.jobs}
    assert set(by) == {"int8", "int8-static"}
    assert by["int8"].status == "ok" and by["int8"].details["variant"]["as_given"]["precision"] == "int8"
    assert "MatMulInteger" in by["int8"].details["variant"]["as_given"]["precision_evidence"]
    assert by["int8-static"].status == "failed" and "already int8" in (by["int8-static"].reason or "")
    assert "computes in int8" in (tmp_path / "q.html").read_text()


@pytest.mark.slow
def test_one_inapplicable_requested_precision_fails_its_row_and_the_others_run(tmp_path: Path) -> None:
    # Gemm only: MatMulNBits (int4) has nothing to quantize; fp32 and int8-static still run
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "b")
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"])], "g", [x], [y], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 7
    onnx.save(m, str(tmp_path / "gemm.onnx"))
    res = _bb("run", "--model", "gemm.onnx", "--precision", "fp32", "--precision", "int4", "--precision",
              "int8-static", "--db", "g.db", "--json", "--no-report", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    out = json.loads(res.stdout)
    assert out["statuses"] == {"ok": 2, "failed": 1}
    run = Store(tmp_path / "g.db").load_run(out["run_id"])
    int4 = next(j for j in run.jobs if j.precision == "int4")
    assert int4.reason and int4.reason.startswith("not applicable:") and "Gemm" in int4.reason
    int8 = next(j for j in run.jobs if j.precision == "int8-static")
    assert int8.status == "ok"  # opset 11 upgraded to 13 first
    assert int8.details["variant"]["transforms"]["main"][0]["transform"].startswith("opset 11 → 13")
