"""Model workloads in suites: expansion into validated variant jobs, error key paths, BYO flags, and (slow)
the real CLI running a tiny quantization study through the agent subprocess."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.results.store import Store
from benchbench.workloads.plan import PlannedJob
from benchbench.workloads.registry import byo_suite, expand
from benchbench.workloads.staging import BYO_FLAGS


def silero_model(name: str = "silero_vad_16k_op15.onnx") -> Path:
    """A real trained model shipped in a wheel (pip install --no-deps silero-vad)."""
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps silero-vad"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name

TIMING = "timing: {warmup_s: 0.02, min_value_s: 0.002, rounds: 2, values_per_round: 5, max_timed_s: 1}\n"
CNN = "{width: 0.35, resolution: 64, num_classes: 100, calibration_samples: 8, validation_samples: 6}"
LLM = ("{vocab: 512, hidden: 64, layers: 2, heads: 4, ffn: 128, seq_len: 16, max_len: 32, new_tokens: 8, "
       "generations: 2, calibration_samples: 8, validation_samples: 6}")
TINY_STUDY = f"""\
name: tiny-study
{TIMING}sampling: {{interval_s: 0.01, measure_overhead: false}}
jobs:
  - workload: mobilenetv2
    precisions: [fp32, int8-static]
    pruning: [none, unstructured-50, structured-50]
    params: {CNN}
  - workload: decoder
    precisions: [fp32, int8-dynamic, int4]
    params: {LLM}
  - workload: byo
    precisions: [fp32, fp16]
    params: {{model: overflow.onnx, calibration_samples: 4, validation_samples: 4}}
"""


def overflow_model(path: Path) -> Path:
    """x·W with W = 30000: finite in fp32, overflows to inf in fp16, so its fp16 variant fails validation."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    w = numpy_helper.from_array(np.full((64, 16), 30000.0, dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]),
                           helper.make_node("Relu", ["h"], ["y"])],
                          "overflow", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.save(m, str(path))
    return path


def write_study(folder: Path, text: str = TINY_STUDY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    overflow_model(folder / "overflow.onnx")
    (folder / "study.yaml").write_text(text)
    return folder / "study.yaml"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[Path, list[PlannedJob]]:
    suite_file = write_study(tmp_path_factory.mktemp("study"))
    return suite_file, expand(load_suite(suite_file), str(suite_file), cache_dir / "artifacts", "x86_64")


def by_variant(jobs: list[PlannedJob]) -> dict[tuple[str, str, str], PlannedJob]:
    return {(j.spec.workload, j.spec.precision, j.spec.pruning): j for j in jobs}


def test_every_variant_is_planned_with_its_artifacts_and_facts(planned: tuple[Path,
                                                                              list[PlannedJob]]) -> None:
    _, jobs = planned
    jobs_by = by_variant(jobs)
    assert len(jobs) == 11 and len(jobs_by) == 11
    names = [p.name for j in jobs for p in j.artifacts()]
    assert len(names) == len(set(names)), "artifact names must not collide in the board's flat directory"
    for (workload, precision, pruning), j in jobs_by.items():
        if j.precheck_failure:
            continue
        assert j.artifact_path is not None and j.artifact_path.is_file()
        assert j.spec.artifact == j.artifact_path.name
        v = j.meta
        assert v["status"] == "ok" and v["precision"] == precision and v["pruning"] == pruning
        assert v["size_bytes"] == j.artifact_path.stat().st_size
        assert v["tool_versions"]["onnxruntime"] and v["recipe"]["precision"] == precision
        for role, info in v["validation"].items():
            assert info["optimized_ops"], role
            assert 0 <= info["fidelity"]["top1_agreement"] <= 1
    dense = jobs_by[("mobilenetv2", "fp32", "none")]
    assert dense.meta["validation"]["main"]["fidelity"]["cosine_mean"] > 0.9999
    int8 = jobs_by[("mobilenetv2", "int8-static", "none")]
    assert int8.meta["validation"]["main"]["quantized_compute_ops"] > 0
    assert int8.meta["recipe"]["arch_class"] == "x86" and int8.meta["tool"]["flavour"] == "U8S8"
    assert int8.meta["size_bytes"] < 0.5 * dense.meta["size_bytes"]
    unstructured = jobs_by[("mobilenetv2", "fp32", "unstructured-50")]
    assert abs(unstructured.meta["pruning_info"]["main"]["sparsity"] - 0.5) < 0.01
    structured = jobs_by[("mobilenetv2", "fp32", "structured-50")]
    assert structured.work.ops_per_call is not None and dense.work.ops_per_call is not None
    assert structured.work.ops_per_call < 0.8 * dense.work.ops_per_call
    assert unstructured.work.ops_per_call == dense.work.ops_per_call  # same shapes: same dense work
    for precision in ("fp32", "int8-dynamic", "int4"):
        llm = jobs_by[("decoder", precision, "none")]
        assert llm.spec.backend == "onnxruntime-llm" and llm.work.item_unit == "token"
        decode = llm.extra_artifacts[0]
        assert llm.spec.params["decode_artifact"] == decode.name
        assert any(i.name.startswith("past_") for i in onnx.load(str(decode),
                                                                 load_external_data=False).graph.input)
        assert set(llm.meta["validation"]) == {"prefill", "decode"}
    assert jobs_by[("byo:overflow", "fp32", "none")].precheck_failure is None
    failed = jobs_by[("byo:overflow", "fp16", "none")]
    assert failed.artifact_path is None and failed.artifacts() == []
    assert failed.precheck_failure is not None and "non-finite" in failed.precheck_failure


def test_second_expansion_regenerates_nothing(planned: tuple[Path, list[PlannedJob]],
                                              cache_dir: Path) -> None:
    suite_file, first = planned
    again = expand(load_suite(suite_file), str(suite_file), cache_dir / "artifacts", "x86_64")
    assert [j.spec.job_key for j in again] == [j.spec.job_key for j in first]
    assert all(j.meta["from_cache"] for j in again)
    for a, b in zip(first, again):
        assert [p.stat().st_ino for p in a.artifacts()] == [p.stat().st_ino for p in b.artifacts()]


def test_a_precision_that_does_not_apply_is_a_row_and_the_others_run(tmp_path: Path, cache_dir: Path) -> None:
    # requested by name: planned as a failed job with the reason (the run exits 1), never an aborted run
    suite_file = write_study(tmp_path, f"name: na\n{TIMING}jobs:\n  - {{workload: mobilenetv2, "
                                       f"precisions: [fp32, int8-dynamic, int8-static], params: {CNN}}}\n")
    jobs = by_variant(expand(load_suite(suite_file), str(suite_file), cache_dir / "artifacts", "x86_64"))
    na = jobs[("mobilenetv2", "int8-dynamic", "none")]
    assert na.precheck_status == "failed" and na.precheck_failure is not None
    assert na.precheck_failure.startswith("not applicable:") and "MatMul" in na.precheck_failure
    assert jobs[("mobilenetv2", "int8-static", "none")].precheck_failure is None
    # by default (no precisions listed): every precision is a row; the inapplicable ones are 'unsupported'
    suite_file = write_study(tmp_path / "d",
                             f"name: d\n{TIMING}jobs:\n  - {{workload: mobilenetv2, params: {CNN}}}\n")
    jobs = by_variant(expand(load_suite(suite_file), str(suite_file), cache_dir / "artifacts", "x86_64"))
    assert {p for _, p, _ in jobs} == {"fp32", "fp16", "int8-static", "int8-dynamic", "int4"}
    assert jobs[("mobilenetv2", "int4", "none")].precheck_status == "unsupported"


@pytest.mark.parametrize("entry, key, message", [
    ("{workload: mobilenetv3, params: {}}", "jobs[0].workload", "unknown workload"),
    (f"{{workload: mobilenetv2, precisions: [fp32, int9], params: {CNN}}}", "jobs[0].precisions[1]",
     "unknown precision"),
    (f"{{workload: mobilenetv2, precisions: [fp32], pruning: [none, sparse-10], params: {CNN}}}",
     "jobs[0].pruning[1]", "is not 'none'"),
    ("{workload: byo, precisions: [fp32], pruning: [structured-25], params: {model: overflow.onnx}}",
     "jobs[0].pruning[0]", "no prune groups"),
    ("{workload: byo, params: {model: missing.onnx}}", "jobs[0].params.model", "not found"),
    ("{workload: byo, params: {model: overflow.onnx, shapes: [x=1x2x64]}}", "jobs[0].params.shapes",
     "rank"),
    ("{workload: mobilenetv2, params: {depth: 3}}", "jobs[0].params.depth", "unknown parameter"),
    ("{workload: decoder, params: {hidden: 32, heads: 3}}", "jobs[0].params", "decoder:"),
])
def test_bad_model_entries_name_file_and_key(tmp_path: Path, cache_dir: Path, entry: str, key: str,
                                             message: str) -> None:
    suite_file = write_study(tmp_path, f"name: bad\njobs:\n  - {entry}\n")
    with pytest.raises(ConfigError) as err:
        expand(load_suite(suite_file), str(suite_file), cache_dir / "artifacts")
    assert err.value.key == key and err.value.file == str(suite_file)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_byo_flags_become_a_suite_and_errors_name_the_flags(tmp_path: Path, cache_dir: Path) -> None:
    model = overflow_model(tmp_path / "m.onnx")
    suite = byo_suite(model, ["x=1x64"], [], None, ["fp32"])
    assert suite.jobs[0].workload == "byo" and suite.jobs[0].precisions == ["fp32"]
    assert suite.jobs[0].params == {"model": str(model.resolve()), "shapes": ["x=1x64"]}
    jobs = expand(suite, BYO_FLAGS, cache_dir / "artifacts")
    assert [(j.spec.workload, j.spec.precision, j.precheck_failure)
            for j in jobs] == [("byo:m", "fp32", None)]
    with pytest.raises(ConfigError) as err:
        byo_suite(model, ["x=1xa"], [], None, None)
    assert err.value.key == "shape"
    with pytest.raises(ConfigError) as err:
        byo_suite(model, [], [], None, ["int3"])
    assert err.value.key == "--precision"
    for shapes, precisions, flag in ((["y=1x64"], None, "--shape"), ([], ["int8-dynamic", "int4"], None)):
        if flag is None:  # both apply to a MatMul model: no error
            assert len(expand(byo_suite(model, shapes, [], None, precisions), BYO_FLAGS,
                              cache_dir / "artifacts")) == 2
            continue
        with pytest.raises(ConfigError) as err:
            expand(byo_suite(model, shapes, [], None, precisions), BYO_FLAGS, cache_dir / "artifacts")
        assert err.value.key == flag and err.value.file is None


# --------------------------------------------------------------------------------------------- slow e2e

def _bb(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BENCHBENCH_CACHE=str(cache), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "benchbench", *args], env=env, cwd=cwd, capture_output=True,
                          check=False, text=True, timeout=900)


def _variant_dirs(cache: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in (cache / "artifacts" / "variants").iterdir()}


@pytest.mark.slow
def test_cli_runs_a_tiny_quantization_study_and_caches_variants(tmp_path: Path) -> None:
    suite_file = write_study(tmp_path / "suite")
    cache = tmp_path / "cache"
    res = _bb("run", "--suite", str(suite_file), "--db", "s.db", "--json", "-o", "r.html", cwd=tmp_path,
              cache=cache)
    assert res.returncode == 1, res.stderr  # one variant failed validation: the run reports failed jobs
    outcome = json.loads(res.stdout)
    assert outcome["statuses"] == {"ok": 10, "failed": 1}
    run = Store(tmp_path / "s.db").load_run(outcome["run_id"])
    jobs = {(j.workload, j.precision, j.pruning): j for j in run.jobs}
    assert len(jobs) == 11
    for (workload, precision, pruning), j in jobs.items():
        if j.status != "ok":
            continue
        for name in ("latency.p50", "mem.peak_rss", "model.size", "fidelity.cosine", "fidelity.sqnr_db",
                     "fidelity.top1_agreement", "fidelity.max_abs_err"):
            assert j.value(name) is not None, (workload, precision, pruning, name)
        assert j.details["variant"]["precision"] == precision and j.details["variant"]["pruning"] == pruning
        assert j.value("model.size") == j.details["variant"]["size_bytes"]
    assert jobs[("mobilenetv2", "fp32", "none")].value("fidelity.cosine") == pytest.approx(1.0, abs=1e-5)
    for precision in ("fp32", "int8-dynamic", "int4"):
        llm = jobs[("decoder", precision, "none")]
        ttft, prefill, decode = (llm.value(m) for m in ("llm.ttft", "llm.prefill_tps", "llm.decode_tps"))
        assert ttft is not None and prefill is not None and decode is not None
        assert prefill == pytest.approx(16 / ttft, rel=1e-6)  # 16-token prompt
        assert llm.metric("llm.decode_tps").unit == "tokens/s"  # type: ignore[union-attr]
        assert decode == pytest.approx(1 / llm.details["extra"]["decode_step_s"], rel=1e-6)
    failed = jobs[("byo:overflow", "fp16", "none")]
    assert failed.status == "failed" and "non-finite" in (failed.reason or "")
    assert failed.value("latency.p50") is None and not failed.raw and failed.duration_s is None
    assert failed.details["variant"]["status"] == "failed"
    html = (tmp_path / "r.html").read_text()
    assert 'id="findings"' in html and "int8 vs fp32" in html and "unstructured pruning vs dense" in html
    assert 'data-pruning="structured-50"' in html

    before = _variant_dirs(cache)
    again = _bb("run", "--suite", str(suite_file), "--db", "s.db", "--json", "--no-report", cwd=tmp_path,
                cache=cache)
    assert json.loads(again.stdout)["statuses"] == {"ok": 10, "failed": 1}
    assert _variant_dirs(cache) == before  # nothing regenerated
    second = Store(tmp_path / "s.db").load_run(json.loads(again.stdout)["run_id"])
    assert all(j.details["variant"]["from_cache"] for j in second.jobs)


@pytest.mark.slow
def test_cli_runs_a_real_byo_model_from_flags(tmp_path: Path) -> None:
    res = _bb("run", "--model", str(silero_model()), "--shape", "input=1x512", "--shape", "state=2x1x128",
              "--input", "sr=16000", "--precision", "fp32", "--precision", "int8-static", "--db", "b.db",
              "--json", "--no-report", cwd=tmp_path, cache=tmp_path / "cache")
    assert res.returncode == 0, res.stderr
    outcome = json.loads(res.stdout)
    assert outcome["statuses"] == {"ok": 2}
    run = Store(tmp_path / "b.db").load_run(outcome["run_id"])
    assert run.info.suite_name == "byo-silero_vad_16k_op15" and run.info.suite_file is None
    for j in run.jobs:
        assert j.workload == "byo:silero_vad_16k_op15"
        assert j.params["fixed_inputs"] == {"sr": 16000.0}
        assert j.details["extra"]["inputs"]["sr"] == [[], "int64"]
        assert j.value("latency.p50") and j.value("model.size") and j.value("fidelity.sqnr_db") is not None
        assert j.params["input_shapes"] == {"input": [1, 512], "state": [2, 1, 128], "sr": []}
        fid = j.details["variant"]["validation"]["main"]["fidelity"]
        assert fid["outputs_validated"] == 2
        # the worst output's cosine only where it has >= 16 elements (the speech probability has 1)
        assert (j.value("fidelity.cosine") is None) == (fid["elements"] < 16)
    bad = _bb("run", "--model", str(silero_model()), "--db", "b.db", cwd=tmp_path, cache=tmp_path / "cache")
    assert bad.returncode == 2 and "--shape" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2
