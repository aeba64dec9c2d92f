"""``benchbench queue``: per run and board, what is queued, running (on which controller, since when), done
and failed — the engine's jobs joined with what the results store holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..results.store import Store
from .engine import BATCH_TASK, LEASE_TASK, QUEUE_SCHEMA, conninfo, ensure_schema


@dataclass
class BoardQueue:
    run_id: str
    board: str
    queued: int = 0  # benchmark jobs in engine jobs not yet started
    running: list[tuple[str, dt.datetime]] = field(default_factory=list)  # (controller, since)
    done: int = 0  # stored ok / unsupported
    failed: int = 0  # stored failed / timeout / skipped
    engine_failed: int = 0  # engine jobs that failed (a controller-side error; see the worker's log)


@dataclass
class QueueView:
    boards: list[BoardQueue]
    #: boards leased by hand-started `benchbench run`s: (board, controller, since)
    leases: list[tuple[str, str, dt.datetime]]


def queue_view(store: Store, run_id: str | None = None, last: int = 5) -> QueueView:
    import psycopg
    ensure_schema(store.url)
    with psycopg.connect(conninfo(store.url), autocommit=True) as conn:
        if run_id is None:
            runs = [r[0] for r in conn.execute(
                "SELECT args->>'run_id' FROM procrastinate_jobs WHERE task_name = %s GROUP BY 1 "
                "ORDER BY max(id) DESC LIMIT %s", (BATCH_TASK, last)).fetchall()]
        else:
            runs = [run_id]
        rows = conn.execute(
            f"SELECT j.args->>'run_id', j.args->>'board', j.status, jsonb_array_length(j.args->'keys'), "
            f"a.controller, a.since FROM procrastinate_jobs j LEFT JOIN {QUEUE_SCHEMA}.bb_activity a "
            "ON a.job_id = j.id WHERE j.task_name = %s AND j.args->>'run_id' = ANY(%s) ORDER BY j.id",
            (BATCH_TASK, runs)).fetchall()
        leases = conn.execute(
            "SELECT a.board, a.controller, a.since FROM procrastinate_jobs j JOIN "
            f"{QUEUE_SCHEMA}.bb_activity a ON a.job_id = j.id WHERE j.task_name = %s AND j.status = 'doing' "
            "ORDER BY a.since",
            (LEASE_TASK,)).fetchall()
    by: dict[tuple[str, str], BoardQueue] = {}
    for run, board, status, n, controller, since in rows:
        q = by.setdefault((run, board), BoardQueue(run, board))
        if status == "todo":
            q.queued += int(n or 0)
        elif status == "doing":
            q.running.append((controller or "?", since))
        elif status == "failed":
            q.engine_failed += 1
    for run in runs:
        for rec in store.load_run(run, with_raw=False).jobs if _exists(store, run) else ():
            q = by.setdefault((run, rec.board), BoardQueue(run, rec.board))
            if rec.status in ("ok", "unsupported"):
                q.done += 1
            else:
                q.failed += 1
    return QueueView(sorted(by.values(), key=lambda q: (runs.index(q.run_id), q.board)),
                     [(b, c, s) for b, c, s in leases])


def _exists(store: Store, run_id: str) -> bool:
    return any(r.run_id == run_id for r in store.list_runs())
