"""``benchbench submit``: store a run and put its jobs in the lab queue, one engine job per board batch.

Granularity: a board measures one job at a time anyway, so an engine job per benchmark job would only add
an SSH connect, a deploy check and an agent start per job. A batch of jobs per engine job keeps that cost per
batch; several batches per board let a hand-started ``benchbench run`` or another run's jobs get a turn in
between (the board's lock is FIFO), and bound what a lost controller takes back to the queue. The variants
of one model are measured interleaved in one agent call, so a group is never split across batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..config.suite import load_suite, suite_hash
from ..pipeline import controller_snapshot, jobs_by_board, new_run_id, stored_plan
from ..results.store import Store
from ..variant_groups import assign_groups
from ..workloads.plan import PlannedJob
from .engine import BATCH_TASK, board_lock, board_queue, ensure_schema, sync_app

log = logging.getLogger(__name__)

DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Submitted:
    run_id: str
    batches: dict[str, int]  # board → engine jobs
    jobs: dict[str, int]  # board → benchmark jobs


def batches(jobs: list[PlannedJob], size: int) -> list[list[str]]:
    """Job keys in batches of about ``size`` (0: one batch), a variant group never split."""
    units: dict[str, list[str]] = {}
    for spec in assign_groups([j.spec for j in jobs]):
        units.setdefault(spec.group or f"job:{spec.job_key}", []).append(spec.job_key)
    out: list[list[str]] = []
    for keys in units.values():
        if out and (size <= 0 or len(out[-1]) + len(keys) <= size):
            out[-1].extend(keys)
        else:
            out.append(list(keys))
    return out


def submit(store: Store, suite_path: Path, fleet_file: Path, selectors: str | None, cache: Path,
           batch_size: int = DEFAULT_BATCH, priority: int = 0) -> Submitted:
    from ..config.fleet import load_fleet, select_boards
    from ..config.profiles import load_profile
    ensure_schema(store.url)
    suite = load_suite(suite_path)
    inventory = load_fleet(fleet_file)
    boards = select_boards(inventory, selectors)
    # profiles only for their CPU arch (int8 flavours); boards are not contacted (the submitter may not reach
    # them), so a board without a profile gets this machine's arch
    jobs = jobs_by_board(suite, str(suite_path), cache,
                         {b.name: load_profile(b.profile).arch if b.profile else None for b in boards})
    run_id = new_run_id()
    plan = stored_plan({"suite": str(suite_path.resolve()), "fleet": str(fleet_file.resolve()),
                        "boards": selectors}, jobs)
    # workers on other machines rebuild the jobs from the suite's own text
    plan["queue"] = {"suite_yaml": suite_path.read_text(), "suite_file": str(suite_path)}
    store.create_run(run_id, suite.name, str(suite_path), suite_hash(suite_path), __version__,
                     controller_snapshot(), plan)
    app = sync_app(store.url)
    n_batches: dict[str, int] = {}
    with app.open():
        for b in boards:
            parts = batches(jobs[b.name], batch_size)
            deferrer = app.configure_task(BATCH_TASK, lock=board_lock(b.name), queue=board_queue(b.name),
                                          priority=priority)
            deferrer.batch_defer(*[{"run_id": run_id, "board": b.name, "keys": keys} for keys in parts])
            n_batches[b.name] = len(parts)
    log.info("run %s: %d engine jobs queued", run_id, sum(n_batches.values()))
    return Submitted(run_id, n_batches, {b.name: len(jobs[b.name]) for b in boards})
