"""Typed rows of the read model (:mod:`.queries`): plain data without the store, so ``analysis/`` can take
them as input while staying free of SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JobRow:
    """One stored job that finished ``ok``, as history reads it: its series identity, the metrics asked for,
    and the flags that exclude a point from step detection."""

    run_id: str
    run_started_at: float  # unix seconds; orders the series
    board: str
    workload: str
    precision: str
    pruning: str
    params_json: str  # the params as stored (JSON); one decode per series, not per job
    metrics: Mapping[str, float | None]  # by store name: the names asked for and the latency statistics
    throttled: bool
    board_status: str | None  # the board's status in this run (health check verdict)
    #: raw per-call latencies (s), only where the stored statistics cannot stand in for them
    latency_s: tuple[float, ...] | None = None
