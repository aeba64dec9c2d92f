"""Stored records → the plain inputs of compare/history. The only analysis module that knows the record
layout (``benchbench.results.records``); everything else works on :class:`JobSample`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..results.records import BoardInfo, JobRecord, RunData
from .compare import JobKey, JobSample
from .history import RunRef

#: board statuses that mean the board failed its health check or never ran properly
UNHEALTHY = frozenset({"failed", "unhealthy", "unreachable", "timeout"})


def params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str) if params else ""


def latency_values_s(rec: JobRecord) -> np.ndarray | None:
    rounds = rec.raw.get("latency_rounds") or []
    vals = [v for r in rounds for v in (r.get("values_s") or [])]
    return np.asarray(vals, dtype=np.float64) if vals else None


def job_sample(rec: JobRecord, board: BoardInfo | None = None) -> JobSample:
    throttle = rec.details.get("throttle") or {}
    env: dict[str, Any] = dict(board.snapshot) if board else {}
    if rec.env:
        env["job"] = rec.env
    return JobSample(
        key=JobKey(rec.board, rec.workload, rec.precision, rec.pruning, params_key(rec.params)),
        metrics={m.name: m.value for m in rec.metrics}, latency_s=latency_values_s(rec), env=env,
        status=rec.status, throttled=bool(throttle.get("throttled")),
        healthy=not (board and board.status in UNHEALTHY))


def run_samples(run: RunData) -> list[JobSample]:
    boards = {b.board: b for b in run.boards}
    return [job_sample(j, boards.get(j.board)) for j in run.jobs]


def run_entries(run: RunData) -> list[tuple[RunRef, JobSample]]:
    ref = RunRef(run.info.run_id, run.info.started_at)
    return [(ref, s) for s in run_samples(run)]
