"""LiteRT (ai-edge-litert) on real .tflite models from the mediapipe wheel: the agent backend times
them, and a ``workload: byo, backend: litert`` suite entry plans one as-is job per parameter combination."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from litert_models import face_detection, mediapipe_modules

from benchbench.agent.protocol import JobSpec, TimingPlan
from benchbench.agent.worker import run_job
from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.workloads.registry import expand
from benchbench.workloads.tflite_jobs import AS_IS, precision_label

QUICK = TimingPlan(warmup_min_iters=2, warmup_s=0.01, min_value_s=0.002, rounds=2, values_per_round=3,
                   max_timed_s=2.0)
_LABEL = {np.float32: "fp32", np.float16: "fp16", np.int8: "int8", np.uint8: "uint8", np.int16: "int16"}


def _job(artifact: str, **params: object) -> JobSpec:
    return JobSpec(job_key="k", workload="w", backend="litert", precision="fp32", params=dict(params),
                   artifact=artifact, timing=QUICK)


def test_litert_backend_times_a_real_tflite(tmp_path: Path) -> None:
    shutil.copyfile(face_detection(), tmp_path / "face.tflite")
    res = run_job(_job("face.tflite", num_threads=1), str(tmp_path))
    assert res["status"] == "ok", res.get("reason")
    assert res["implementation"].startswith("ai-edge-litert ") and "(1 threads)" in res["implementation"]
    assert res["extra"]["inputs"] == {"input": [[1, 128, 128, 3], "float32"]}
    values = [v for r in res["timing"]["rounds"] for v in r["values_s"]]
    assert len(values) == 6 and all(v > 0 for v in values)
    assert res["memory"]["peak_rss_bytes"] > 0
    (tmp_path / "bad.tflite").write_bytes(b"\0" * 64)
    bad = run_job(_job("bad.tflite"), str(tmp_path))
    assert bad["status"] == "failed" and "LiteRT could not load bad.tflite" in bad["reason"]


def test_flatbuffer_precision_matches_the_interpreter() -> None:
    from ai_edge_litert.interpreter import Interpreter

    models = sorted(mediapipe_modules().rglob("*.tflite"))
    assert len(models) == 14
    for path in models:
        dtype = Interpreter(model_path=str(path)).get_input_details()[0]["dtype"]
        assert precision_label(path) == _LABEL.get(dtype, AS_IS), path.name


def _suite(tmp_path: Path, extra: str = "", model: str = "face.tflite") -> Path:
    shutil.copyfile(face_detection(), tmp_path / "face.tflite")
    (tmp_path / "s.yaml").write_text(
        "name: lite\njobs:\n  - workload: byo\n    backend: litert\n"
        f"    params: {{model: {model}, num_threads: [1, 2]}}\n{extra}")
    return tmp_path / "s.yaml"


def test_byo_tflite_entry_plans_litert_jobs(tmp_path: Path) -> None:
    path = _suite(tmp_path)
    jobs = expand(load_suite(path), str(path), tmp_path / "cache")
    assert [(j.spec.backend, j.spec.precision, j.spec.params["num_threads"]) for j in jobs] == [
        ("litert", "fp32", 1), ("litert", "fp32", 2)]
    assert jobs[0].spec.workload == "byo:face" and jobs[0].artifact_path is not None
    assert jobs[0].artifact_path.read_bytes() == face_detection().read_bytes()
    assert jobs[0].spec.artifact == jobs[0].artifact_path.name and jobs[0].artifact_path.suffix == ".tflite"
    assert jobs[0].meta["size_bytes"] == face_detection().stat().st_size
    assert jobs[0].spec.job_key != jobs[1].spec.job_key


@pytest.mark.parametrize("extra, model, key, words", [
    ("    precisions: [int8]\n", "face.tflite", "jobs[0].precisions", "runs as-is (fp32)"),
    ("    pruning: [unstructured-50]\n", "face.tflite", "jobs[0].pruning", "pruning does not apply"),
    ("", "missing.tflite", "jobs[0].params.model", "model file not found"),
    ("", "s.yaml", "jobs[0].params.model", "not a readable TFLite model"),
])
def test_byo_tflite_bad_entries(tmp_path: Path, extra: str, model: str, key: str, words: str) -> None:
    path = _suite(tmp_path, extra, model)
    with pytest.raises(ConfigError) as err:
        expand(load_suite(path), str(path), tmp_path / "cache")
    assert err.value.key == key and words in str(err.value)
