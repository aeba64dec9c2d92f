"""Stored records and read-model rows → the plain inputs of compare/history: the one analysis module that
turns records (``benchbench.results.records``) and rows (``.rows``, plain data: no store, no SQL) into
:class:`JobSample`, which compare and history work on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..results.keys import params_key
from ..results.records import BoardInfo, JobRecord, RunData
from ..results.rows import JobRow, latency_values
from .compare import JobKey, JobSample
from .gates import METRICS
from .history import RunRef

#: board statuses that mean the board failed its health check or never ran properly
UNHEALTHY = frozenset({"failed", "unhealthy", "unreachable", "timeout"})


def series_params(params: dict[str, Any]) -> str:
    """A :class:`JobKey`'s params part: the job key's canonical params (``results.keys.params_key``), left
    empty for a job without params so labels and history/compare JSON show nothing there."""
    return params_key(params) if params else ""


def latency_values_s(rec: JobRecord) -> np.ndarray | None:
    vals = latency_values(rec.raw.get("latency_rounds"))
    return np.asarray(vals, dtype=np.float64) if vals else None


def job_sample(rec: JobRecord, board: BoardInfo | None = None) -> JobSample:
    throttle = rec.details.get("throttle") or {}
    env: dict[str, Any] = dict(board.snapshot) if board else {}
    if rec.env:
        env["job"] = rec.env
    return JobSample(
        key=JobKey(rec.board, rec.workload, rec.precision, rec.pruning, series_params(rec.params)),
        metrics={m.name: m.value for m in rec.metrics}, latency_s=latency_values_s(rec), env=env,
        status=rec.status, throttled=bool(throttle.get("throttled")),
        healthy=not (board and board.status in UNHEALTHY))


def run_samples(run: RunData) -> list[JobSample]:
    boards = {b.board: b for b in run.boards}
    return [job_sample(j, boards.get(j.board)) for j in run.jobs]


def stored_names(metrics: Iterable[str]) -> list[str]:
    """The store names of history metrics: what :func:`benchbench.results.queries.job_rows` must read."""
    return sorted({METRICS[m].store_name for m in metrics})


def entries_from_rows(rows: Iterable[JobRow]) -> list[tuple[RunRef, JobSample]]:
    """One (run, sample) per row, in the rows' order: the input of ``history.build_history``."""
    # one JobKey per series and one RunRef per run, shared by their jobs: cheaper to build and to group by
    keys: dict[tuple[str, str, str, str, str], JobKey] = {}
    refs: dict[str, RunRef] = {}
    out: list[tuple[RunRef, JobSample]] = []
    for r in rows:
        ident = (r.board, r.workload, r.precision, r.pruning, r.params_json)
        key = keys.get(ident)
        if key is None:
            key = keys[ident] = JobKey(r.board, r.workload, r.precision, r.pruning,
                                       series_params(json.loads(r.params_json)))
        ref = refs.get(r.run_id)
        if ref is None:
            ref = refs[r.run_id] = RunRef(r.run_id, r.run_started_at)
        out.append((ref, JobSample(key=key, metrics=r.metrics, env={}, status="ok", throttled=r.throttled,
                                   healthy=r.board_status not in UNHEALTHY,
                                   latency_s=None if r.latency_s is None
                                   else np.asarray(r.latency_s, dtype=np.float64))))
    return out
