"""The read model: what the CLI (``history``) and the published site read of the store beyond
:meth:`Store.load_run`, in a few narrow queries each. Nothing outside ``results/`` holds SQL (the lab's queue
aside); the row types live in :mod:`.rows` so that ``analysis/`` can take them without importing the store.

A site covers every stored run, and loading 100 000 full job records (every metric, every JSON column)
takes about half a minute; history needs only the job identity, a few metrics and two flags, and a big
run's pages only the metrics they show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from . import schema as s
from .records import JobRecord, Metric, RunData, Warning_
from .rows import LATENCY_STATS, JobRow, latency_values, stored_latency_stats
from .store import Store, board_info, run_info, unpack

_IN_CHUNK = 500  # ids per IN (...) list: SQLite caps the number of bound parameters


def _throttled(details_json: str | None) -> bool:
    # cheap text test first: json.loads of every job's details would dominate the whole read
    if not details_json:
        return False
    if '"throttled": true' not in details_json.replace('"throttled":true', '"throttled": true'):
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


def job_rows(store: Store, metric_names: Iterable[str], board: str | None = None,
             workload: str | None = None) -> list[JobRow]:
    """Every stored job that finished ``ok`` (only ``board``'s / ``workload``'s when given), oldest run first,
    in stored order within a run, with the named metrics and :data:`LATENCY_STATS`.

    Raw latencies are decoded only for jobs whose stored statistics are incomplete (runs stored before they
    were): the analysis falls back to them exactly there, and nowhere else."""
    names = sorted(set(metric_names) | set(LATENCY_STATS))
    j, m, r, b, ru = s.jobs.c, s.metrics.c, s.raw.c, s.boards.c, s.runs.c
    stmt = sa.select(j.id, j.run_id, j.board, j.workload, j.precision, j.pruning, j.params_json,
                     j.details_json).where(j.status == "ok").order_by(j.id)
    if board is not None:
        stmt = stmt.where(j.board == board)
    if workload is not None:
        stmt = stmt.where(j.workload == workload)
    try:
        with store.engine.connect() as conn:
            started = dict(_fetch(conn, sa.select(ru.run_id, ru.started_at)))
            status = {(run_id, bd): st
                      for run_id, bd, st in _fetch(conn, sa.select(b.run_id, b.board, b.status))}
            jobs = _fetch(conn, stmt)
            values: dict[int, dict[str, float | None]] = {}
            # by name alone (covering index ix_metrics_name, schema v2): failed jobs' rows are few and
            # cheaper to skip here than a job-id subquery is to evaluate per row
            for job_id, name, value in _fetch(conn, sa.select(m.job_id, m.name, m.value)
                                              .where(m.name.in_(names))):
                values.setdefault(job_id, {})[name] = value
            lacking = [x[0] for x in jobs if stored_latency_stats(values.get(x[0], {})) is None]
            raws: dict[int, tuple[float, ...] | None] = {}
            for i in range(0, len(lacking), _IN_CHUNK):
                raws.update((job_id, latency_values(unpack(data)) or None) for job_id, data in _fetch(
                    conn, sa.select(r.job_id, r.data).where(r.job_id.in_(lacking[i:i + _IN_CHUNK]),
                                                             r.kind == "latency_rounds")))
    except sa.exc.SQLAlchemyError as exc:
        raise store.read_error(exc) from None
    out = [JobRow(run_id, started[run_id], bd, wl, precision, pruning, params_json, values.get(job_id, {}),
                  _throttled(details_json), status.get((run_id, bd)), raws.get(job_id))
           for job_id, run_id, bd, wl, precision, pruning, params_json, details_json in jobs]
    out.sort(key=lambda row: (row.run_started_at, row.run_id))
    return out


def summary_run(store: Store, run_id: str, metric_names: Sequence[str]) -> RunData:
    """A run as summary pages and comparisons use it: like :meth:`Store.load_run`, without the columns they
    do not show (job details except the throttle flag, work, stderr, metrics other than ``metric_names``,
    raw series other than the latency rounds). Decoding every job's details was a third of loading a
    2 000-job run. A run not stored raises what :meth:`Store.load_run` raises."""
    j, m, r = s.jobs.c, s.metrics.c, s.raw.c
    names = sorted(set(metric_names))
    try:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)).first()
            if row is None:
                raise store.no_run(run_id)
            boards = tuple(board_info(b)
                           for b in conn.execute(sa.select(s.boards).where(s.boards.c.run_id == run_id)))
            jobs = _fetch(conn, sa.select(j.id, j.board, j.job_key, j.workload, j.backend, j.precision,
                                          j.pruning, j.params_json, j.status, j.reason, j.implementation,
                                          j.timed_window, j.started_at, j.duration_s, j.env_json,
                                          j.details_json, j.warnings_json)
                          .where(j.run_id == run_id).order_by(j.id))
            # the run's jobs as a subquery, not their ids as bound parameters (SQLite caps those)
            ids = sa.select(j.id).where(j.run_id == run_id)
            by_job: dict[int, list[Metric]] = {}
            for job_id, *fields in _fetch(conn, sa.select(m.job_id, m.name, m.value, m.unit, m.scope,
                                                          m.source, m.detail, m.unavailable_reason)
                                          .where(m.job_id.in_(ids), m.name.in_(names))):
                by_job.setdefault(job_id, []).append(Metric(*fields))
            raws = {job_id: unpack(data) for job_id, data in _fetch(
                conn, sa.select(r.job_id, r.data).where(r.job_id.in_(ids), r.kind == "latency_rounds"))}
    except sa.exc.SQLAlchemyError as exc:
        raise store.read_error(exc) from None
    out = []
    for (job_id, board, job_key, workload, backend, precision, pruning, params_json, status, reason, impl,
         window, started, duration, env_json, details_json, warnings_json) in jobs:
        out.append(JobRecord(
            run_id=run_id, board=board, job_key=job_key, workload=workload, backend=backend,
            precision=precision, pruning=pruning, params=json.loads(params_json), status=status,
            reason=reason, implementation=impl, timed_window=window, started_at=started, duration_s=duration,
            env=json.loads(env_json or "{}"),
            details={"throttle": {"throttled": True}} if _throttled(details_json) else {},
            metrics=tuple(sorted(by_job.get(job_id, []), key=lambda x: x.name)),
            warnings=tuple(Warning_(**w) for w in json.loads(warnings_json or "[]")),
            raw={"latency_rounds": raws[job_id]} if job_id in raws else {}))
    return RunData(info=run_info(row._mapping, len(out)), boards=boards, jobs=tuple(out))
