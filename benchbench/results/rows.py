"""Typed rows of the read model (:mod:`.queries`): plain data without the store, so ``analysis/`` can take
them as input while staying free of SQL. The latency helpers below are shared by both sides: the read model
decodes raw values exactly where the analysis falls back to them, which holds only while the two use one
definition."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: the stored statistics that stand in for a job's raw latencies (its median, and the standard error of
#: that median from sd and n): read with every history row
LATENCY_STATS = ("latency.p50", "latency.sd", "latency.n")


def stored_latency_stats(metrics: Mapping[str, float | None]) -> tuple[float, float, float] | None:
    """(p50, sd, n) when the stored statistics can stand in for the raw latencies (all present, sd finite,
    n ≥ 3); None when the raw values are needed."""
    p50, sd, n = (metrics.get(k) for k in LATENCY_STATS)
    if p50 is None or sd is None or n is None or not math.isfinite(sd) or n < 3:
        return None
    return p50, sd, n


def latency_values(rounds: Any) -> tuple[float, ...]:
    """The per-call latencies (s) of a stored ``latency_rounds`` payload, rounds in order; () for none."""
    return tuple(v for r in rounds or [] for v in (r.get("values_s") or []))


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
