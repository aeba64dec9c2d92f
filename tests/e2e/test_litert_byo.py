"""A bring-your-own .tflite through the real CLI on the local board: planned for the litert backend,
timed by ai-edge-litert in the agent, latency stored and reported."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from benchbench.results.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workloads"))
from litert_models import face_detection


@pytest.mark.slow
def test_tflite_byo_runs_through_the_cli(tmp_path: Path, bb, bb_env) -> None:
    shutil.copyfile(face_detection(), tmp_path / "face.tflite")
    (tmp_path / "s.yaml").write_text(
        "name: lite\n"
        "timing: {warmup_s: 0.02, min_value_s: 0.002, rounds: 2, values_per_round: 5, max_timed_s: 1}\n"
        "sampling: {interval_s: 0.02, measure_overhead: false}\n"
        "jobs:\n  - workload: byo\n    backend: litert\n    params: {model: face.tflite, num_threads: 1}\n")
    res = bb("run", "--suite", "s.yaml", "--db", "r.db", "--json", "--report", "r.html", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["statuses"] == {"ok": 1}
    job, = Store(tmp_path / "r.db").load_run(out["run_id"]).jobs
    assert (job.workload, job.backend, job.precision, job.status) == ("byo:face", "litert", "fp32", "ok")
    assert job.implementation is not None and job.implementation.startswith("ai-edge-litert ")
    metrics = {m.name: m for m in job.metrics}
    assert 0 < metrics["latency.p50"].value < 1.0 and metrics["latency.n"].value == 10
    assert metrics["model.size"].value == face_detection().stat().st_size
    assert "byo:face" in (tmp_path / "r.html").read_text()
