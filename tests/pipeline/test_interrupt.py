"""``Run.interrupt()`` from another thread (a lab worker's stop): fan_out closes the board's transport, which
stops its agent; the jobs it finished are stored and the run is marked interrupted."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lab.slow_suite import SLOW_SUITE

from benchbench.pipeline import BoardOutcome, BoardTarget, PlanRequest, Run, plan_run
from benchbench.results.store import Store
from benchbench.transport.local import LocalTransport


def test_an_interrupt_from_another_thread_stops_the_board(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW_SUITE)
    store, cache = Store(tmp_path / "r.db"), tmp_path / "cache"
    plan = plan_run(PlanRequest(suite=str(tmp_path / "slow.yaml"), profile="generic-linux"), store, cache)
    board = BoardTarget(name="local", connect=LocalTransport, python=sys.executable,
                        work_dir=str(tmp_path / "board"), sampling_families=("memory",))
    first = threading.Event()

    def events(kind: str, board: str, **_: Any) -> None:
        if kind == "job_done":
            first.set()

    run = Run(store, dataclasses.replace(plan, targets=(board,)), cache, events=events)
    outcomes: list[BoardOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.extend(run.execute()))
    worker.start()
    assert first.wait(timeout=120)
    t0 = time.monotonic()
    run.interrupt()
    worker.join(timeout=30)
    assert not worker.is_alive() and time.monotonic() - t0 < 10
    out, = outcomes
    assert out.interrupted and 1 <= out.statuses.get("ok", 0) < len(plan.jobs["local"])
    stored = store.load_run(plan.run_id)
    assert stored.info.status == "interrupted" and len(stored.jobs) == out.stored
