"""Series over runs per (board, workload, precision, pruning, params) and metric, with step detection.

Each point is one run's value of the metric (for latency: the run's median). Points from jobs flagged
throttled or from boards that failed their health check are kept in the series (the trend plot shows
them) but never take part in step detection, so they can neither raise nor hide a regression.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from ..results.rows import stored_latency_stats
from .compare import JobKey, JobSample
from .gates import METRICS, MetricDef
from .stepdetect import DEFAULT_CONFIG, Step, StepConfig, detect_many, detect_steps

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
    where they can stand in (``results.rows.stored_latency_stats``, the test the read model decodes raw
    values by), so long histories need not decode every job's raw samples; else the raw values."""
    if mdef.sample_stat is None:
        return None
    stored = stored_latency_stats(job.metrics)
    if stored is not None:
        med_s, sd, n = stored
        return 1.2533 * sd / math.sqrt(n) / med_s if med_s > 0 else None
    x = job.latency_s
    if x is None or x.size < 3:
        return None
    med = float(np.median(x))
    return 1.2533 * float(x.std(ddof=1)) / math.sqrt(x.size) / med if med > 0 else None


def _exclusion(job: JobSample) -> str | None:
    if job.throttled:
        return "throttled during the job"
    if not job.healthy:
        return "board failed its health check"
    return None


def _key_points(entries: Sequence[tuple[RunRef, JobSample]],
                mdefs: Sequence[MetricDef]) -> list[tuple[HistoryPoint, ...]]:
    """Points of one key's jobs (sorted by run) for every metric in one pass: the exclusion reason and the
    relative SE are computed once per job, not once per job and metric."""
    cols: list[list[HistoryPoint]] = [[] for _ in mdefs]
    specs = [(col, mdef, mdef.store_name, mdef.sample_stat is not None) for col, mdef in zip(cols, mdefs)]
    isfinite, point = math.isfinite, HistoryPoint
    for ref, job in entries:
        if job.status != "ok":
            continue
        reason = _exclusion(job)
        excluded = reason is not None
        se: float | None = None
        se_done = False
        stored = job.metrics
        for col, mdef, name, wants_se in specs:
            # the stored value when there is one (nearly always), as _point_value would take it
            v = stored.get(name)
            if v is None:
                v = _point_value(job, mdef)
                if v is None:
                    continue
            elif not (isfinite(v) and v > 0):
                continue
            if wants_se and not se_done:
                se, se_done = _rel_se(job, mdef), True
            col.append(point(ref.run_id, ref.started_at, v, se if wants_se else None, excluded, reason))
    return [tuple(c) for c in cols]


def _by_run(e: tuple[RunRef, JobSample]) -> tuple[float, str]:
    return (e[0].started_at, e[0].run_id)


def build_points(entries: Iterable[tuple[RunRef, JobSample]], mdef: MetricDef) -> tuple[HistoryPoint, ...]:
    return _key_points(sorted(entries, key=_by_run), (mdef,))[0]


def _detection_input(points: Sequence[HistoryPoint]) -> tuple[list[int], np.ndarray, float]:
    """(positions of the points used, their values, noise floor): what step detection needs of a series."""
    used = [i for i, p in enumerate(points) if not p.excluded]
    ses = [se for i in used if (se := points[i].rel_se) is not None]
    floor = float(np.median(ses)) if ses else 0.0
    return used, np.fromiter((points[i].value for i in used), np.float64, len(used)), floor


def _series(key: JobKey, metric: str, points: Sequence[HistoryPoint], used: Sequence[int],
            steps: Sequence[Step]) -> Series:
    mdef = METRICS[metric]
    regs = []
    for s in steps:
        worse = (s.rel_change > 0) == mdef.higher_is_worse
        regs.append(Regression(key, metric, points[used[s.index]].run_id, points[used[s.index - 1]].run_id,
                               s.rel_change, s.before, s.after, s.p_value, "worse" if worse else "better"))
    return Series(key, metric, tuple(points), tuple(regs))


def analyse_series(key: JobKey, metric: str, points: Sequence[HistoryPoint],
                   config: StepConfig = DEFAULT_CONFIG) -> Series:
    used, values, floor = _detection_input(points)
    steps = detect_steps(values, noise_floor=floor, config=config) if used else ()
    return _series(key, metric, points, used, steps)


def build_history(entries: Iterable[tuple[RunRef, JobSample]], metrics: Sequence[str] = DEFAULT_METRICS,
                  config: StepConfig = DEFAULT_CONFIG,
                  executor: Executor | None = None) -> tuple[Series, ...]:
    """All series found in ``entries`` (one entry per stored job), sorted by key then metric.

    ``executor`` (a process pool): step detection runs there, in batches of compact arrays; the result is
    the same as without one (each series' detection is seeded on its own)."""
    by_key: dict[JobKey, list[tuple[RunRef, JobSample]]] = {}
    for ref, job in entries:
        by_key.setdefault(job.key, []).append((ref, job))
    mdefs = [METRICS[m] for m in metrics]
    todo: list[tuple[JobKey, str, tuple[HistoryPoint, ...], list[int]]] = []
    inputs: list[tuple[np.ndarray, float]] = []
    for key in sorted(by_key):
        for metric, pts in zip(metrics, _key_points(sorted(by_key[key], key=_by_run), mdefs)):
            if pts:
                used, values, floor = _detection_input(pts)
                todo.append((key, metric, pts, used))
                inputs.append((values, floor))
    found = detect_many(inputs, config, executor)
    return tuple(_series(key, metric, pts, used, steps)
                 for (key, metric, pts, used), steps in zip(todo, found))


def fleet_regressions(series: Iterable[Series]) -> tuple[Regression, ...]:
    """Every regression across the fleet, largest relative change first."""
    regs = [r for s in series for r in s.regressions]
    return tuple(sorted(regs, key=lambda r: -abs(r.rel_change)))
