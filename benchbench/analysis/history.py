"""Series over runs per (board, workload, precision, pruning, params) and metric, with step detection.

Each point is one run's value of the metric (for latency: the run's median). Points from jobs flagged
throttled or from boards that failed their health check are kept in the series (the trend plot shows
them) but never take part in step detection, so they can neither raise nor hide a regression.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .compare import JobKey, JobSample
from .gates import METRICS, MetricDef
from .stepdetect import DEFAULT_CONFIG, StepConfig, detect_steps

#: metrics tracked by ``history`` unless told otherwise
DEFAULT_METRICS = ("latency.p50", "energy_per_inference", "mem_peak")


@dataclass(frozen=True)
class RunRef:
    run_id: str
    started_at: float  # unix seconds; orders the series


@dataclass(frozen=True)
class HistoryPoint:
    run_id: str
    started_at: float
    value: float
    rel_se: float | None  # relative standard error of the run's median, when raw values are known
    excluded: bool
    exclude_reason: str | None = None


@dataclass(frozen=True)
class Regression:
    key: JobKey
    metric: str
    run_id: str  # first run at the new level: where the shift began
    previous_run_id: str  # last run at the old level (among the points used)
    rel_change: float  # after / before - 1
    before: float
    after: float
    p_value: float
    direction: str  # "worse" | "better"


@dataclass(frozen=True)
class Series:
    key: JobKey
    metric: str
    points: tuple[HistoryPoint, ...]
    steps: tuple[Regression, ...]  # every confirmed step, better or worse

    @property
    def regressions(self) -> tuple[Regression, ...]:
        return tuple(s for s in self.steps if s.direction == "worse")


def _point_value(job: JobSample, mdef: MetricDef) -> float | None:
    v = job.metrics.get(mdef.store_name)
    if v is None and mdef.sample_stat == "p50" and job.latency_s is not None and job.latency_s.size:
        v = float(np.median(job.latency_s))
    return v if v is not None and math.isfinite(v) and v > 0 else None


def _rel_se(job: JobSample, mdef: MetricDef) -> float | None:
    """Relative standard error of a median (≈ 1.2533·sd/√n), only for metrics taken from raw values.

    Uses the stored ``latency.sd``/``latency.n``/``latency.p50`` (computed from those same raw values)
    when present, so long histories need not decode every job's raw samples; else the raw values."""
    if mdef.sample_stat is None:
        return None
    sd, n, med_s = (job.metrics.get(k) for k in ("latency.sd", "latency.n", "latency.p50"))
    if sd is not None and n is not None and med_s is not None and math.isfinite(sd) and n >= 3:
        return 1.2533 * sd / math.sqrt(n) / med_s if med_s > 0 else None
    x = job.latency_s
    if x is None or x.size < 3:
        return None
    med = float(np.median(x))
    return 1.2533 * float(x.std(ddof=1)) / math.sqrt(x.size) / med if med > 0 else None


def build_points(entries: Iterable[tuple[RunRef, JobSample]], mdef: MetricDef) -> tuple[HistoryPoint, ...]:
    pts: list[HistoryPoint] = []
    for ref, job in sorted(entries, key=lambda e: (e[0].started_at, e[0].run_id)):
        if job.status != "ok":
            continue
        v = _point_value(job, mdef)
        if v is None:
            continue
        reason = None
        if job.throttled:
            reason = "throttled during the job"
        elif not job.healthy:
            reason = "board failed its health check"
        pts.append(HistoryPoint(ref.run_id, ref.started_at, v, _rel_se(job, mdef), reason is not None, reason))
    return tuple(pts)


def analyse_series(key: JobKey, metric: str, points: Sequence[HistoryPoint],
                   config: StepConfig = DEFAULT_CONFIG) -> Series:
    mdef = METRICS[metric]
    used = [p for p in points if not p.excluded]
    ses = [p.rel_se for p in used if p.rel_se is not None]
    floor = float(np.median(ses)) if ses else 0.0
    steps = detect_steps([p.value for p in used], noise_floor=floor, config=config) if used else ()
    regs = []
    for s in steps:
        worse = (s.rel_change > 0) == mdef.higher_is_worse
        regs.append(Regression(key, metric, used[s.index].run_id, used[s.index - 1].run_id, s.rel_change,
                               s.before, s.after, s.p_value, "worse" if worse else "better"))
    return Series(key, metric, tuple(points), tuple(regs))


def build_history(entries: Iterable[tuple[RunRef, JobSample]], metrics: Sequence[str] = DEFAULT_METRICS,
                  config: StepConfig = DEFAULT_CONFIG) -> tuple[Series, ...]:
    """All series found in ``entries`` (one entry per stored job), sorted by key then metric."""
    by_key: dict[JobKey, list[tuple[RunRef, JobSample]]] = {}
    for ref, job in entries:
        by_key.setdefault(job.key, []).append((ref, job))
    out: list[Series] = []
    for key in sorted(by_key):
        for metric in metrics:
            pts = build_points(by_key[key], METRICS[metric])
            if pts:
                out.append(analyse_series(key, metric, pts, config))
    return tuple(out)


def fleet_regressions(series: Iterable[Series]) -> tuple[Regression, ...]:
    """Every regression across the fleet, largest relative change first."""
    regs = [r for s in series for r in s.regressions]
    return tuple(sorted(regs, key=lambda r: -abs(r.rel_change)))
