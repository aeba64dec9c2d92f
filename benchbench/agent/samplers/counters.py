"""Cumulative energy counters that advance in steps (NVML total energy ~100 ms, hwmon ``energy*_input``,
RAPL ``energy_uj`` ~1 ms): the arithmetic that keeps their numbers honest.

A counter read at ``t`` holds the energy up to its *last update*, not up to ``t``. So:

* the update points: each sample whose value changed marks an update that happened after the previous
  sample; its time is estimated half a gap (or half an update period, when updates are faster than
  polls) before the sample, and the counter value there is exact. Energy between two instants is read
  off the line through those points, so a window need not start or end on an update;
* power derived from a counter is a difference between update points at least one update period (and
  many timing errors) apart, never between two polls: differencing a 100 ms staircase over 10 ms turns
  one step into a 10x "peak";
* the quantisation uncertainty of a window's energy is one update period × the power.
"""

from __future__ import annotations

import bisect
from typing import List, Optional, Sequence, Tuple

#: a derived power difference spans at least this many update-time uncertainties (error ≤ 2/SPAN_FACTOR)
SPAN_FACTOR = 40


def unwrap(vs: Sequence[float], wrap_at: Optional[float]) -> Optional[List[float]]:
    """Counter values made monotonic across wraps; None when it went backwards without a wrap (reset)."""
    if not vs:
        return []
    out = [float(vs[0])]
    for i in range(1, len(vs)):
        d = vs[i] - vs[i - 1]
        if d < 0:
            if not wrap_at:
                return None
            d += wrap_at
        out.append(out[-1] + d)
    return out


def _median(xs: Sequence[float]) -> Optional[float]:
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def median_gap_ns(ts: Sequence[int]) -> Optional[float]:
    return _median([ts[i] - ts[i - 1] for i in range(1, len(ts))])


def estimate_period_s(ts: Sequence[int], vs: Sequence[float]) -> Optional[float]:
    """Median interval between value changes in a sampled series (None with fewer than 3 changes)."""
    changes = [ts[i] for i in range(1, len(vs)) if vs[i] != vs[i - 1]]
    med = _median([changes[i] - changes[i - 1] for i in range(1, len(changes))])
    return med / 1e9 if med is not None and len(changes) >= 3 else None


class CounterSeries:
    """One energy counter's samples turned into update points ``(u_ns, energy)``."""

    def __init__(self, ts: Sequence[int], vs: Sequence[float], wrap_at: Optional[float],
                 update_period_s: Optional[float] = None) -> None:
        self.ts = list(ts)
        self.cum = unwrap(vs, wrap_at)
        gap = median_gap_ns(self.ts)
        #: the update period: measured at probe time, else estimated from these samples, else one poll
        period_s = update_period_s or (estimate_period_s(self.ts, self.cum) if self.cum else None)
        if period_s is None and gap:
            period_s = gap / 1e9
        self.period_s = period_s
        self.u_ns: List[float] = []
        self.energy: List[float] = []
        errs: List[float] = []
        if self.cum is None:
            return
        p_ns = period_s * 1e9 if period_s else None
        for k in range(1, len(self.cum)):
            if self.cum[k] == self.cum[k - 1]:
                continue
            g = self.ts[k] - self.ts[k - 1]
            half = min(p_ns, g) / 2 if p_ns else g / 2
            self.u_ns.append(self.ts[k] - half)
            self.energy.append(self.cum[k])
            errs.append(half)
        #: how far an update time estimate may be off (ns)
        self.time_error_ns = _median(errs) or 0.0

    @property
    def usable(self) -> bool:
        return self.cum is not None and len(self.u_ns) >= 2

    def energy_at(self, t: int) -> Optional[float]:
        u, e = self.u_ns, self.energy
        if len(u) < 2 or t < u[0] or t > u[-1]:
            return None
        i = bisect.bisect_left(u, t)
        if u[i] == t:
            return e[i]
        return e[i - 1] + (e[i] - e[i - 1]) * (t - u[i - 1]) / (u[i] - u[i - 1])

    def energy_between(self, a: int, b: int) -> Tuple[Optional[float], str]:
        """Energy over [a, b] and how it was taken: on the update-point line when updates bracket both
        ends, else the difference of the first samples after the window opens and after it closes."""
        ea, eb = self.energy_at(a), self.energy_at(b)
        if ea is not None and eb is not None:
            return eb - ea, "counter difference between update points around the window"
        if self.cum is None:
            return None, "counter went backwards (reset)"
        ia, ib = bisect.bisect_left(self.ts, a), bisect.bisect_left(self.ts, b)
        if ib >= len(self.ts):
            return None, "no counter sample after the window closed"
        return self.cum[ib] - self.cum[ia], "counter difference of the first samples after window open/close"

    def min_span_ns(self) -> float:
        p_ns = (self.period_s or 0.0) * 1e9
        return max(p_ns, SPAN_FACTOR * self.time_error_ns)

    def power_segments(self) -> List[Tuple[float, float, float]]:
        """(start_ns, end_ns, watts) between update points at least :meth:`min_span_ns` apart."""
        out: List[Tuple[float, float, float]] = []
        if not self.usable:
            return out
        span = self.min_span_ns()
        u, e = self.u_ns, self.energy
        j = 0
        for i in range(len(u)):
            j = max(j, i + 1)
            while j < len(u) and u[j] - u[i] < span:
                j += 1
            if j >= len(u):
                break
            out.append((u[i], u[j], (e[j] - e[i]) / ((u[j] - u[i]) / 1e9)))
        return out

    def mean_power_w(self) -> Optional[float]:
        if not self.usable:
            return None
        return (self.energy[-1] - self.energy[0]) / ((self.u_ns[-1] - self.u_ns[0]) / 1e9)
