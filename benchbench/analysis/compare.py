"""Compare two runs job by job: ratio threshold AND significance test (asv's rule), CI gates, comparability.

Jobs are matched by :class:`JobKey` (board, workload, precision, pruning, params key). For each metric
present on both sides the relative change ``B/A - 1`` is computed, then tested on the raw latency values:

* centre metrics (p50, mean, throughput) — two-sided Mann–Whitney U (scipy), significant if p < alpha;
* tail metrics (p90/p95/p99) — Mann–Whitney tests location, not tails (same median, wider spread gives a
  large p), so these use a seeded bootstrap CI of the quantile ratio at confidence ``1 - alpha``;
* single values (energy per inference, peak memory, mean power) — no test is possible; the ratio alone
  decides and the row says so (``test=None``, ``significant=None``).

A change is *reported* when ``|B/A - 1| >= min_change`` and the test (where one was possible) agrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from .envdiff import env_differences
from .gates import METRICS, Gate, MetricDef


@dataclass(frozen=True, order=True)
class JobKey:
    board: str
    workload: str
    precision: str
    pruning: str
    params_key: str

    def label(self) -> str:
        extra = f" [{self.params_key}]" if self.params_key else ""
        return f"{self.board} {self.workload} {self.precision}/{self.pruning}{extra}"


@dataclass(frozen=True)
class JobSample:
    """What the analysis needs of one stored job; plain data, built by the results layer."""

    key: JobKey
    #: stored metric values by store name (``latency.p50``, ``energy.per_inference``, ``mem.peak_rss`` …)
    metrics: Mapping[str, float | None]
    #: raw timed values in seconds (per call); None when not kept
    latency_s: np.ndarray | None = field(default=None, compare=False)
    #: environment snapshot (board snapshot merged with the job's env), nested dicts allowed
    env: Mapping[str, Any] = field(default_factory=dict, compare=False)
    status: str = "ok"
    throttled: bool = False
    healthy: bool = True


@dataclass(frozen=True)
class MetricChange:
    key: JobKey
    metric: str
    value_a: float
    value_b: float
    rel_change: float  # B/A - 1
    test: str | None  # "mannwhitneyu" | "bootstrap" | None (not possible)
    p_value: float | None
    significant: bool | None  # None: no test was possible, the ratio alone decided
    changed: bool
    direction: str  # "worse" | "better" | "unchanged"
    note: str | None = None


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    key: JobKey
    rel_change: float | None
    tripped: bool
    basis: str  # how the verdict was reached, one line


@dataclass(frozen=True)
class CompareResult:
    rows: tuple[MetricChange, ...]
    verdicts: tuple[GateVerdict, ...]
    warnings: tuple[str, ...]
    only_in_a: tuple[JobKey, ...]
    only_in_b: tuple[JobKey, ...]
    alpha: float
    min_change: float

    @property
    def tripped(self) -> bool:
        return any(v.tripped for v in self.verdicts)

    @property
    def changes(self) -> tuple[MetricChange, ...]:
        return tuple(r for r in self.rows if r.changed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tripped"] = self.tripped
        out: dict[str, Any] = _finite(d)
        return out


def _finite(obj: Any) -> Any:
    """JSON has no NaN/inf: turn them into None on the way out."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


_MIN_VALUES = 3  # below this neither test means anything


def _sample_value(x: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(x.mean())
    if stat == "throughput":
        return float(1.0 / np.median(x))
    return float(np.percentile(x, float(stat[1:])))


def _bootstrap_quantile(a: np.ndarray, b: np.ndarray, q: float, alpha: float,
                        seed: int) -> tuple[float, bool]:
    """Two-sample percentile bootstrap of quantile(B)/quantile(A); significant if the CI excludes 1.
    Returns (achieved two-sided p approximated from the bootstrap distribution, significant)."""
    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(np.percentile(y, q, axis=axis) / np.percentile(x, q, axis=axis))

    res = sps.bootstrap((a, b), ratio, n_resamples=2000, confidence_level=1.0 - alpha, method="percentile",
                        vectorized=True, random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    dist = np.asarray(res.bootstrap_distribution)
    p = float(min(1.0, 2.0 * min((dist <= 1.0).mean(), (dist >= 1.0).mean())))
    return p, not (lo <= 1.0 <= hi)


def compare_metric(key: JobKey, mdef: MetricDef, a: JobSample, b: JobSample, *, alpha: float,
                   min_change: float, seed: int = 0, mwu_p: float | None = None) -> MetricChange | None:
    """One row; None when the metric is missing on either side. ``mwu_p``: the Mann–Whitney p-value of
    the two jobs' raw values when already known (it is the same for every centre statistic)."""
    xa, xb = a.latency_s, b.latency_s
    have_raw = (mdef.sample_stat is not None and xa is not None and xb is not None
                and xa.size >= _MIN_VALUES and xb.size >= _MIN_VALUES)
    va, vb = a.metrics.get(mdef.store_name), b.metrics.get(mdef.store_name)
    if (va is None or vb is None) and have_raw and mdef.sample_stat is not None:
        assert xa is not None and xb is not None
        va, vb = _sample_value(xa, mdef.sample_stat), _sample_value(xb, mdef.sample_stat)
    if va is None or vb is None or va == 0 or not (math.isfinite(va) and math.isfinite(vb)):
        return None
    rel = vb / va - 1.0
    test: str | None = None
    p: float | None = None
    sig: bool | None = None
    note: str | None = None
    if have_raw and mdef.sample_stat is not None:
        assert xa is not None and xb is not None
        if mdef.sample_stat in ("p50", "mean", "throughput"):
            test = "mannwhitneyu"
            p = mwu_p if mwu_p is not None else float(sps.mannwhitneyu(xa, xb,
                                                                       alternative="two-sided").pvalue)
            sig = p < alpha
        else:
            test = "bootstrap"
            p, sig = _bootstrap_quantile(xa, xb, float(mdef.sample_stat[1:]), alpha, seed)
    elif mdef.sample_stat is None:
        note = "single value per job: significance test not possible, ratio only"
    else:
        note = f"fewer than {_MIN_VALUES} raw values on a side: significance test not possible, ratio only"
    big = abs(rel) >= min_change
    changed = big and sig is not False
    worse = (rel > 0) == mdef.higher_is_worse
    direction = "unchanged" if not changed else ("worse" if worse else "better")
    return MetricChange(key, mdef.name, float(va), float(vb), rel, test, p, sig, changed, direction, note)


def _index(jobs: Iterable[JobSample], side: str, warnings: list[str]) -> dict[JobKey, JobSample]:
    out: dict[JobKey, JobSample] = {}
    for j in jobs:
        if j.status != "ok":
            warnings.append(f"run {side}: {j.key.label()} has status {j.status}; not compared")
            continue
        if j.key in out:
            warnings.append(f"run {side}: {j.key.label()} appears twice; the later job is used")
        out[j.key] = j
    return out


_CENTRE = ("p50", "mean", "throughput")


def _mwu_pvalues(pairs: dict[JobKey, tuple[JobSample, JobSample]]) -> dict[JobKey, float]:
    """Two-sided Mann–Whitney p-values of every pair with enough raw values, one scipy call per group of
    pairs with the same sample sizes (row-wise along axis 1: the same values as one call per pair, a
    thousand times fewer calls for a lab-sized run)."""
    groups: dict[tuple[int, int], list[JobKey]] = {}
    for key, (a, b) in pairs.items():
        if a.latency_s is not None and b.latency_s is not None \
                and a.latency_s.size >= _MIN_VALUES and b.latency_s.size >= _MIN_VALUES:
            groups.setdefault((a.latency_s.size, b.latency_s.size), []).append(key)
    out: dict[JobKey, float] = {}
    for keys in groups.values():
        xa = np.stack([pairs[k][0].latency_s for k in keys])  # type: ignore[misc]
        xb = np.stack([pairs[k][1].latency_s for k in keys])  # type: ignore[misc]
        ps = np.atleast_1d(sps.mannwhitneyu(xa, xb, alternative="two-sided", axis=1).pvalue)
        out.update(zip(keys, map(float, ps)))
    return out


def _verdict(gate: Gate, key: JobKey, row: MetricChange | None) -> GateVerdict:
    if row is None:
        return GateVerdict(gate.text, key, None, False, f"{gate.metric} missing in A or B: not evaluated")
    over = gate.trips(row.rel_change)
    if row.significant is None:
        basis = f"{row.rel_change:+.1%} vs {gate.text} (ratio only: {row.note})"
        return GateVerdict(gate.text, key, row.rel_change, over, basis)
    basis = f"{row.rel_change:+.1%} vs {gate.text}; {row.test} p={row.p_value:.2g}"
    return GateVerdict(gate.text, key, row.rel_change, over and bool(row.significant), basis)


def compare_runs(jobs_a: Sequence[JobSample], jobs_b: Sequence[JobSample], gates: Sequence[Gate] = (), *,
                 alpha: float = 0.01, min_change: float = 0.05, seed: int = 0,
                 metrics: Sequence[str] | None = None) -> CompareResult:
    """Compare run A (baseline) with run B (candidate). Pure; deterministic for a given seed.

    ``metrics``: only these rows (names of :data:`METRICS`; gates' metrics are always compared)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    warnings: list[str] = []
    ia, ib = _index(jobs_a, "A", warnings), _index(jobs_b, "B", warnings)
    common = sorted(set(ia) & set(ib))
    wanted = set(METRICS if metrics is None else metrics) | {g.metric for g in gates}
    mdefs = [m for m in METRICS.values() if m.name in wanted]
    rows: list[MetricChange] = []
    verdicts: list[GateVerdict] = []
    mwu = (_mwu_pvalues({k: (ia[k], ib[k]) for k in common})
           if any(m.sample_stat in _CENTRE for m in mdefs) else {})
    for key in common:
        a, b = ia[key], ib[key]
        by_metric: dict[str, MetricChange] = {}
        for mdef in mdefs:
            row = compare_metric(key, mdef, a, b, alpha=alpha, min_change=min_change, seed=seed,
                                 mwu_p=mwu.get(key))
            if row is not None:
                rows.append(row)
                by_metric[mdef.name] = row
        for gate in gates:
            verdicts.append(_verdict(gate, key, by_metric.get(gate.metric)))
        for d in env_differences(a.env, b.env):
            warnings.append(f"board {key.board}: environments differ, {d}")
    for gate in gates:
        if common and all(v.rel_change is None for v in verdicts if v.gate == gate.text):
            warnings.append(f"gate {gate.text} could not be evaluated for any job ({gate.metric} missing)")
    if not common:
        warnings.append("no job matched between the two runs (board, workload, precision, pruning, params)")
    return CompareResult(tuple(rows), tuple(verdicts), tuple(_dedupe(warnings)),
                         tuple(sorted(set(ia) - set(ib))), tuple(sorted(set(ib) - set(ia))), alpha,
                         min_change)


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]
