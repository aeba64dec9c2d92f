"""The history inputs of the whole store in four narrow queries.

``history`` over a few runs can afford :meth:`Store.load_run` per run; a published site covers every run,
and loading 100 000 full job records (every metric, every JSON column) takes about half a minute. History
needs only the job identity, three metrics, the raw latencies (noise floor) and the throttle/health
flags, so this reads just those and builds the same :class:`JobSample` entries as
``analysis.adapt.run_entries`` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..analysis.adapt import UNHEALTHY, params_key
from ..analysis.compare import JobKey, JobSample
from ..analysis.gates import METRICS
from ..analysis.history import RunRef
from ..errors import StoreError
from ..results import schema as s
from ..results.store import Store


def _throttled(details_json: str | None) -> bool:
    # cheap text test first: json.loads of every job's details would dominate the whole read
    if not details_json or '"throttled": true' not in details_json.replace('"throttled":true', '"throttled": true'):
        return False
    return bool((json.loads(details_json).get("throttle") or {}).get("throttled"))


def _fetch(conn: sa.Connection, stmt: sa.Select[Any]) -> list[Any]:
    """All rows as the driver's tuples, in one driver call. The columns read here are integers, floats and
    text, which need no result processing; skipping SQLAlchemy's Row objects halves the cost of 300 000
    rows (iterating a Result row by row would double it)."""
    result = conn.execute(stmt)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def history_entries(store: Store, metrics: Iterable[str]) -> list[tuple[RunRef, JobSample]]:
    """One (run, sample) per stored job that finished ``ok``, oldest run first."""
    names = sorted({METRICS[m].store_name for m in metrics} | {"latency.p50", "latency.sd", "latency.n"})
    j, m, _r, b, ru = s.jobs.c, s.metrics.c, s.raw.c, s.boards.c, s.runs.c
    try:
        with store.engine.connect() as conn:
            runs = {row.run_id: RunRef(row.run_id, row.started_at)
                    for row in conn.execute(sa.select(ru.run_id, ru.started_at))}
            unhealthy = {(row.run_id, row.board) for row in conn.execute(
                sa.select(b.run_id, b.board).where(b.status.in_(sorted(UNHEALTHY))))}
            jobs = _fetch(conn, sa.select(j.id, j.run_id, j.board, j.workload, j.precision, j.pruning,
                                          j.params_json, j.details_json).where(j.status == "ok")
                                .order_by(j.id))
            values: dict[int, dict[str, float | None]] = {}
            # by name alone (covering index ix_metrics_name, schema v2): failed jobs' rows are few and
            # cheaper to skip here than a job-id subquery is to evaluate per row
            for job_id, name, value in _fetch(conn, sa.select(m.job_id, m.name, m.value)
                                              .where(m.name.in_(names))):
                values.setdefault(job_id, {})[name] = value
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read results: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
    # one JobKey per series, shared by its jobs: cheaper to build and to group by (identity compares)
    keys: dict[tuple[str, str, str, str, str], JobKey] = {}
    out: list[tuple[RunRef, JobSample]] = []
    for job_id, run_id, board, workload, precision, pruning, params_json, details_json in jobs:
        key = keys.get((board, workload, precision, pruning, params_json))
        if key is None:
            key = keys[(board, workload, precision, pruning, params_json)] = JobKey(
                board, workload, precision, pruning, params_key(json.loads(params_json)))
        sample = JobSample(key=key,
                           metrics=values.get(job_id, {}), env={},
                           status="ok", throttled=_throttled(details_json),
                           healthy=(run_id, board) not in unhealthy)
        out.append((runs[run_id], sample))
    out.sort(key=lambda e: (e[0].started_at, e[0].run_id))
    return out
