"""A sampling session: reads every plan on a fixed interval in a background thread, with
``time.monotonic_ns()`` timestamps on the same clock as the timed windows, then summarises each channel
over the windows (mean/min/max; trapezoid energy for power; differenced counters, with wrap, for energy).
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .base import Channel, Plan

Window = Tuple[int, int]  # monotonic ns


class SamplingSession:
    def __init__(self, plans: Sequence[Plan], interval_s: float) -> None:
        self.plans = list(plans)
        self.channels: List[Channel] = [c for p in self.plans for c in p.channels]
        self.interval_s = interval_s
        self.t_ns: List[int] = []
        self.values: List[List[Optional[float]]] = [[] for _ in self.channels]
        self.read_cost_ns = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def sample_once(self) -> None:
        t0 = time.monotonic_ns()
        row: List[Optional[float]] = []
        for p in self.plans:
            row.extend(p.read())
        t1 = time.monotonic_ns()
        self.read_cost_ns += t1 - t0
        self.t_ns.append((t0 + t1) // 2)
        for i, v in enumerate(row):
            self.values[i].append(v)

    def _loop(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_t += self.interval_s
            delay = next_t - time.monotonic()
            if delay < 0:  # fell behind (slow command sensor): do not burst to catch up
                next_t = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def start(self) -> "SamplingSession":
        if self.channels:
            self._thread = threading.Thread(target=self._loop, name="benchbench-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for p in self.plans:
            p.close()

    @property
    def sample_rate_hz(self) -> Optional[float]:
        if len(self.t_ns) < 2:
            return None
        return (len(self.t_ns) - 1) / ((self.t_ns[-1] - self.t_ns[0]) / 1e9)

    def summary(self, windows: Sequence[Window], span: Optional[Window] = None) -> Dict[str, Any]:
        """Per-channel statistics over the timed windows (and the whole job span)."""
        out: Dict[str, Any] = {"sample_rate_hz": self.sample_rate_hz, "n_samples": len(self.t_ns),
                               "read_cost_s": self.read_cost_ns / 1e9, "channels": []}
        for ch, vals in zip(self.channels, self.values):
            ts, vs = _valid(self.t_ns, vals)
            entry: Dict[str, Any] = {"channel": ch.to_dict()}
            entry.update(summarise_channel(ch, ts, vs, windows))
            if span is not None:
                entry["span"] = summarise_channel(ch, ts, vs, [span])
            out["channels"].append(entry)
        return out


def _valid(ts: Sequence[int], vs: Sequence[Optional[float]]) -> Tuple[List[int], List[float]]:
    pairs = [(t, v) for t, v in zip(ts, vs) if v is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[misc]


def interp(ts: Sequence[int], vs: Sequence[float], t: int) -> Optional[float]:
    """Linear interpolation at t; None outside the sampled range."""
    if not ts or t < ts[0] or t > ts[-1]:
        return None
    i = bisect.bisect_left(ts, t)
    if ts[i] == t:
        return vs[i]
    t0, t1, v0, v1 = ts[i - 1], ts[i], vs[i - 1], vs[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def trapezoid_j(ts: Sequence[int], ps: Sequence[float], w: Window) -> Optional[float]:
    """Energy (J) of sampled power (W) over window w, with interpolated end points."""
    a, b = w
    pa, pb = interp(ts, ps, a), interp(ts, ps, b)
    if pa is None or pb is None:
        return None
    lo, hi = bisect.bisect_right(ts, a), bisect.bisect_left(ts, b)
    pts_t = [a] + list(ts[lo:hi]) + [b]
    pts_v = [pa] + list(ps[lo:hi]) + [pb]
    e = 0.0
    for i in range(1, len(pts_t)):
        e += (pts_v[i] + pts_v[i - 1]) / 2 * (pts_t[i] - pts_t[i - 1]) / 1e9
    return e


def counter_delta(ts: Sequence[int], vs: Sequence[float], w: Window, wrap_at: Optional[float]) -> Optional[float]:
    """Increase of a (possibly wrapping) counter over w, from samples inside and around it."""
    a, b = w
    lo = max(bisect.bisect_right(ts, a) - 1, 0)
    hi = min(bisect.bisect_left(ts, b), len(ts) - 1)
    if not ts or ts[lo] > a or ts[hi] < b:
        return None
    total = 0.0
    for i in range(lo + 1, hi + 1):
        d = vs[i] - vs[i - 1]
        if d < 0:
            if not wrap_at:
                return None
            d += wrap_at
        total += d
    # scale the bracketing interval down to the window itself (assumes constant power between samples)
    span = ts[hi] - ts[lo]
    return total * (b - a) / span if span > 0 else None


def summarise_channel(ch: Channel, ts: Sequence[int], vs: Sequence[float],
                      windows: Sequence[Window]) -> Dict[str, Any]:
    inside = [v for t, v in zip(ts, vs) if any(a <= t <= b for a, b in windows)]
    dur_s = sum(b - a for a, b in windows) / 1e9
    res: Dict[str, Any] = {"n_in_windows": len(inside), "window_s": dur_s}
    if ch.quantity == "energy":
        parts = [counter_delta(ts, vs, w, ch.wrap_at) for w in windows]
        if parts and all(p is not None for p in parts):
            e = sum(parts)  # type: ignore[arg-type]
            res.update(energy_j=e, mean_power_w=e / dur_s if dur_s > 0 else None, method="counter difference")
        return res
    if inside:
        res.update(mean=sum(inside) / len(inside), min=min(inside), max=max(inside))
    if ch.quantity == "power":
        parts = [trapezoid_j(ts, vs, w) for w in windows]
        if parts and all(p is not None for p in parts):
            e = sum(parts)  # type: ignore[arg-type]
            res.update(energy_j=e, mean_power_w=e / dur_s if dur_s > 0 else None, method="trapezoid")
    return res
