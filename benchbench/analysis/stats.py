"""Latency statistics on raw values: order statistics, moments and a bootstrap CI of the median."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class LatencyStats:
    n: int
    min_s: float
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    max_s: float
    mean_s: float
    sd_s: float
    ci95_lo_s: float
    ci95_hi_s: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def percentile(values: np.ndarray, q: float) -> float:
    # 'linear' (type 7) interpolation: the common definition (numpy default, R default)
    return float(np.percentile(values, q))


def median_ci(values: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000,
              seed: int = 0) -> tuple[float, float]:
    """Bootstrap (BCa where it is defined, else percentile) CI of the median; seeded, so reproducible."""
    if values.size < 2 or float(np.ptp(values)) == 0.0:
        m = float(np.median(values))
        return m, m
    rng = np.random.default_rng(seed)
    method = "BCa" if values.size >= 10 else "percentile"
    res = sps.bootstrap((values,), np.median, confidence_level=confidence, n_resamples=n_resamples,
                        method=method, random_state=rng, vectorized=True)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)):  # BCa degenerates on heavily tied samples
        res = sps.bootstrap((values,), np.median, confidence_level=confidence, n_resamples=n_resamples,
                            method="percentile", random_state=rng, vectorized=True)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi


def latency_stats(values_s: Sequence[float]) -> LatencyStats:
    v = np.asarray(values_s, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no latency values")
    lo, hi = median_ci(v)
    return LatencyStats(
        n=int(v.size), min_s=float(v.min()), p50_s=percentile(v, 50), p90_s=percentile(v, 90),
        p95_s=percentile(v, 95), p99_s=percentile(v, 99), max_s=float(v.max()), mean_s=float(v.mean()),
        sd_s=float(v.std(ddof=1)) if v.size > 1 else 0.0, ci95_lo_s=lo, ci95_hi_s=hi)
