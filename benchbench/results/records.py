"""Record types shared by the store, the analysis and the report. Units are in the metric names and
``unit`` fields; a metric that could not be measured has ``value=None`` and an ``unavailable_reason``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str  # e.g. latency.p50, throughput, power.mean, energy.per_inference, mem.peak_rss
    value: float | None
    unit: str
    scope: str | None = None  # power/energy: wall, board_input, module_input, rails_sum, accelerator…
    source: str | None = None  # sensor path/command or "timing engine"
    detail: str | None = None  # method, sample rate, what the window contained
    unavailable_reason: str | None = None


@dataclass(frozen=True)
class Warning_:
    code: str
    message: str
    remedy: str
    severity: str = "warning"  # info | warning | error


@dataclass(frozen=True)
class JobRecord:
    run_id: str
    board: str
    job_key: str
    workload: str
    backend: str
    precision: str
    pruning: str
    params: dict[str, Any]
    status: str
    reason: str | None = None
    stderr_tail: str | None = None
    implementation: str | None = None
    timed_window: str | None = None
    started_at: float | None = None
    duration_s: float | None = None
    work: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # timer, calibration, backend extras, sensors
    metrics: tuple[Metric, ...] = ()
    warnings: tuple[Warning_, ...] = ()
    #: raw series kept for recomputation: name → JSON-able payload (latency rounds, sensor series)
    raw: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> Metric | None:
        for m in self.metrics:
            if m.name == name:
                return m
        return None

    def value(self, name: str) -> float | None:
        m = self.metric(name)
        return m.value if m else None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started_at: float
    finished_at: float | None
    status: str  # running | complete | interrupted | failed
    suite_name: str
    suite_file: str | None
    tool_version: str
    controller: dict[str, Any]
    n_jobs: int = 0


@dataclass(frozen=True)
class BoardInfo:
    run_id: str
    board: str
    snapshot: dict[str, Any]
    overhead: dict[str, Any] | None
    status: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RunData:
    info: RunInfo
    boards: tuple[BoardInfo, ...]
    jobs: tuple[JobRecord, ...]
