"""The run pipeline without the CLI (#14.2): a request becomes a plan with jobs per board, and a plan runs
through ``fan_out`` with the board events (``fan_out``'s interrupt: tests/transport/test_fleet_deploy.py)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
from lab.suites import suite_yaml

from benchbench.agent.protocol import DEFAULT_FAMILIES, SamplingPlan
from benchbench.config.profiles import families_for, load_profile
from benchbench.errors import ConfigError, ConnectError
from benchbench.pipeline import BoardTarget, PlanRequest, Run, RunPlan, plan_run
from benchbench.results.store import Store
from benchbench.transport.local import LocalTransport

SUITE = suite_yaml("tiny", """\
  - workload: triad
    precisions: [fp64]
    params: {n: 10000}
  - workload: busy
    params: {n: 2000}
""", families="[memory]")


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SUITE)
    return path


def test_planning_a_local_run_gives_jobs_per_board(suite_file: Path, tmp_path: Path) -> None:
    plan = plan_run(PlanRequest(suite=str(suite_file), profile="generic-linux"), Store(tmp_path / "r.db"),
                    tmp_path / "cache")
    assert [t.name for t in plan.targets] == ["local"] and list(plan.jobs) == ["local"]
    assert sorted(j.spec.workload for j in plan.jobs["local"]) == ["busy", "triad"]
    assert not plan.resuming and not plan.fleet and plan.suite_file == str(suite_file)
    assert plan.invocation == {"suite": str(suite_file.resolve()), "fleet": None, "boards": None}
    local, = plan.targets
    assert local.profile_facts is not None and local.profile_facts["profile"] == "generic-linux"
    assert local.profile_facts["profile_reason"] == "--profile generic-linux"
    assert list(local.sampling_families) == families_for(load_profile("generic-linux"))


def test_a_bad_request_fails_before_anything_is_opened() -> None:
    with pytest.raises(ConfigError, match="leave out --suite"):
        PlanRequest(suite="quick", resume="20260101T000000Z-abcd")
    with pytest.raises(ConfigError):
        PlanRequest(resume="../not-a-run-id")


def test_one_default_family_list() -> None:
    assert families_for(None) == list(DEFAULT_FAMILIES) == SamplingPlan().families
    assert BoardTarget(name="b", connect=LocalTransport).sampling_families == DEFAULT_FAMILIES


def _plan(suite_file: Path, tmp_path: Path, targets: list[BoardTarget]) -> RunPlan:
    base = plan_run(PlanRequest(suite=str(suite_file), profile="generic-linux"), Store(tmp_path / "r.db"),
                    tmp_path / "cache")
    jobs = base.jobs["local"]
    return dataclasses.replace(base, targets=tuple(targets), jobs={t.name: jobs for t in targets})


def test_a_plan_runs_with_board_events_and_a_dead_board_skipped(suite_file: Path, tmp_path: Path) -> None:
    def refuse() -> Any:
        raise ConnectError("connection refused")

    good = BoardTarget(name="good", connect=LocalTransport, python=sys.executable,
                       work_dir=str(tmp_path / "board"), sampling_families=("memory",))
    plan = _plan(suite_file, tmp_path, [good, BoardTarget(name="dead", connect=refuse)])
    # a variant that failed on the controller is stored without its board being contacted
    failed = dataclasses.replace(plan.jobs["good"][0], precheck_failure="variant did not validate")
    plan = dataclasses.replace(plan, jobs={**plan.jobs, "good": [failed, *plan.jobs["good"][1:]]})
    events: list[tuple[str, str]] = []
    store = Store(tmp_path / "r.db")
    outcomes = Run(store, plan, tmp_path / "cache",
                   events=lambda kind, board, **_: events.append((kind, board))).execute()
    by = {o.board: o for o in outcomes}
    assert by["good"].statuses == {"failed": 1, "ok": 1} and by["good"].error is None
    assert by["dead"].statuses == {"skipped": 2} and by["dead"].error == "connect failed: connection refused"
    good_events = [k for k, b in events if b == "good"]
    assert good_events[:2] == ["board_start", "job_done"]  # the precheck failure, before connecting
    assert good_events[2:] == ["deploy", "running", "snapshot", "job_done", "board_done"]
    assert [k for k, b in events if b == "dead"] == ["board_start", "job_done", "job_done"]
    run = store.load_run(plan.run_id)
    assert run.info.status == "complete" and len(run.jobs) == 4
