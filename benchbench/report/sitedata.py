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
from ..results.records import BoardInfo, JobRecord, Metric, RunData, RunInfo, Warning_
from ..results.store import Store, unpack


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


#: what the site shows of a big run (board pages) and compares (SITE_METRICS), by stored metric name
_SITE_RUN_METRICS = ("latency.p50", "latency.p90", "latency.p99", "latency.ci95_lo", "latency.ci95_hi", "latency.mean",
                     "latency.n", "latency.sd", "throughput.items", "throughput.ops", "throughput.bandwidth",
                     "mem.peak_rss", "power.mean", "energy.per_inference", "temp.max")


def site_run(store: Store, run_id: str) -> RunData:
    """A run as the site's big-run pages and comparisons use it: like :meth:`Store.load_run`, without the
    columns they do not show (job details except the throttle flag, work, stderr, other metrics, raw series
    other than the latency rounds). Decoding every job's details was a third of loading a 2 000-job run."""
    j, m, r = s.jobs.c, s.metrics.c, s.raw.c
    names = sorted(set(_SITE_RUN_METRICS) | {METRICS[k].store_name for k in _site_metrics()})
    try:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)).one()._mapping
            boards = tuple(BoardInfo(run_id=b.run_id, board=b.board, snapshot=json.loads(b.snapshot_json),
                                     overhead=json.loads(b.overhead_json) if b.overhead_json else None,
                                     status=b.status, reason=b.reason)
                           for b in conn.execute(sa.select(s.boards).where(s.boards.c.run_id == run_id)))
            jobs = _fetch(conn, sa.select(j.id, j.board, j.job_key, j.workload, j.backend, j.precision, j.pruning,
                                          j.params_json, j.status, j.reason, j.implementation, j.timed_window,
                                          j.started_at, j.duration_s, j.env_json, j.details_json, j.warnings_json)
                          .where(j.run_id == run_id).order_by(j.id))
            ids = [x[0] for x in jobs]
            by_job: dict[int, list[Metric]] = {}
            for job_id, *fields in _fetch(conn, sa.select(m.job_id, m.name, m.value, m.unit, m.scope, m.source,
                                                          m.detail, m.unavailable_reason)
                                          .where(m.job_id.in_(ids), m.name.in_(names))):
                by_job.setdefault(job_id, []).append(Metric(*fields))
            raws = {job_id: unpack(data) for job_id, data in _fetch(
                conn, sa.select(r.job_id, r.data).where(r.job_id.in_(ids), r.kind == "latency_rounds"))}
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read results: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
    out = []
    for (job_id, board, job_key, workload, backend, precision, pruning, params_json, status, reason, impl,
         window, started, duration, env_json, details_json, warnings_json) in jobs:
        out.append(JobRecord(
            run_id=run_id, board=board, job_key=job_key, workload=workload, backend=backend, precision=precision,
            pruning=pruning, params=json.loads(params_json), status=status, reason=reason, implementation=impl,
            timed_window=window, started_at=started, duration_s=duration, env=json.loads(env_json or "{}"),
            details={"throttle": {"throttled": True}} if _throttled(details_json) else {},
            metrics=tuple(sorted(by_job.get(job_id, []), key=lambda x: x.name)),
            warnings=tuple(Warning_(**w) for w in json.loads(warnings_json or "[]")),
            raw={"latency_rounds": raws[job_id]} if job_id in raws else {}))
    info = RunInfo(run_id=row["run_id"], started_at=row["started_at"], finished_at=row["finished_at"],
                   status=row["status"], suite_name=row["suite_name"], suite_file=row["suite_file"],
                   tool_version=row["tool_version"], controller=json.loads(row["controller_json"]),
                   n_jobs=len(out))
    return RunData(info=info, boards=boards, jobs=tuple(out))


def _site_metrics() -> tuple[str, ...]:
    from .comparepage import SITE_METRICS  # comparepage imports rendering; sitedata stays light
    return SITE_METRICS
