"""``--resume`` repeats the stored run and nothing else: a ``--model`` run (whose model is not stored) is
refused before the store changes, and a suite edited since the run adds no jobs to it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lab.suites import suite_yaml

from benchbench.errors import ConnectError
from benchbench.pipeline import BoardTarget, PlanRequest, Run, RunPlan, plan_run
from benchbench.results.store import Store

TRIAD = """\
  - workload: triad
    precisions: [fp64]
    params: {n: 10000}
"""
BUSY = """\
  - workload: busy
    params: {n: 2000}
"""


def _refuse() -> Any:
    raise ConnectError("connection refused")


def _unreachable(plan: RunPlan) -> RunPlan:
    """The plan with its board unreachable: every job is stored as skipped, which a resume retries."""
    return dataclasses.replace(plan, targets=tuple(BoardTarget(name=t.name, connect=_refuse)
                                                   for t in plan.targets))


def _model(path: Path) -> Path:
    """A tiny ONNX model: x [1, 8] float → Relu → y."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def _stored(store: Store, run_id: str) -> tuple[Any, ...]:
    run = store.load_run(run_id)
    return (run.info.status, store.run_plan(run_id),
            sorted((j.board, j.job_key, j.status) for j in run.jobs))


def test_a_model_run_is_not_resumed(tmp_path: Path) -> None:
    from benchbench.workloads.registry import byo_suite
    byo = byo_suite(_model(tmp_path / "m.onnx"), [], [], None, ["fp32"])
    store = Store(tmp_path / "r.db")
    plan = plan_run(PlanRequest(byo=byo, profile="generic-linux"), store, tmp_path / "cache")
    assert plan.invocation["suite"] is None and plan.suite_file is None  # not the built-in quick suite
    Run(store, _unreachable(plan), tmp_path / "cache").execute()
    before = _stored(store, plan.run_id)
    assert before[2] and all(status == "skipped" for _, _, status in before[2])
    env = {**os.environ, "BENCHBENCH_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"}
    res = subprocess.run([sys.executable, "-m", "benchbench", "run", "--resume", plan.run_id,
                          "--db", str(tmp_path / "r.db"), "--no-report"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 2, res.stderr
    line, = res.stderr.strip().splitlines()
    assert line.startswith("benchbench: error: ") and "--resume" in line and "--model" in line, line
    assert _stored(store, plan.run_id) == before


def test_a_resume_runs_only_the_stored_plans_jobs(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_yaml("s", TRIAD, families="[memory]"))
    store, cache = Store(tmp_path / "r.db"), tmp_path / "cache"
    plan = plan_run(PlanRequest(suite=str(suite), profile="generic-linux"), store, cache)
    Run(store, _unreachable(plan), cache).execute()
    (_, _, status), = _stored(store, plan.run_id)[2]
    assert status == "skipped"
    suite.write_text(suite_yaml("s", TRIAD + BUSY, families="[memory]"))  # edited after the run
    resumed = plan_run(PlanRequest(resume=plan.run_id, profile="generic-linux"), store, cache)
    assert [j.spec.workload for j in resumed.jobs["local"]] == ["triad"]
    outcome, = Run(store, resumed, cache).execute()
    assert outcome.error is None and outcome.statuses == {"ok": 1}
    status_, plan_, jobs = _stored(store, plan.run_id)
    assert status_ == "complete" and [(b, s) for b, _, s in jobs] == [("local", "ok")]
    assert plan_["jobs"] == {"local": [jobs[0][1]]}  # the stored plan is kept as it was
