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
    out_t: List[int] = []
    out_v: List[float] = []
    for t, v in zip(ts, vs):
        if v is not None:
            out_t.append(t)
            out_v.append(v)
    return out_t, out_v


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
            e = sum(p for p in parts if p is not None)
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


# --- energy accounting per job (issue #4) -------------------------------------------------------------------

#: fewer samples than this inside a timed window → integrate over the whole timed span instead
MIN_SAMPLES_PER_WINDOW = 3


def _power_series(ch: Channel, ts: Sequence[int], vs: Sequence[float]) -> Tuple[List[int], List[float]]:
    """Sampled power (W) of a power channel, or power derived from an energy counter's differences
    (placed at interval midpoints; wraps handled)."""
    if ch.quantity == "power":
        return list(ts), list(vs)
    out_t: List[int] = []
    out_p: List[float] = []
    for i in range(1, len(ts)):
        d = vs[i] - vs[i - 1]
        if d < 0 and ch.wrap_at:
            d += ch.wrap_at
        dt = (ts[i] - ts[i - 1]) / 1e9
        if d >= 0 and dt > 0:
            out_t.append((ts[i] + ts[i - 1]) // 2)
            out_p.append(d / dt)
    return out_t, out_p


def energy_report(session: SamplingSession, windows: Sequence[Window], inferences: Optional[int],
                  idle_power_w: Optional[Dict[str, float]] = None,
                  min_samples: int = MIN_SAMPLES_PER_WINDOW) -> List[Dict[str, Any]]:
    """Energy per power/energy channel over the timed windows: total, per inference, above idle, mean and
    peak power, sample count/rate, and a warning with a whole-span fallback when a window holds fewer
    than ``min_samples`` samples (a 1 Hz meter against 5 ms inferences)."""
    out: List[Dict[str, Any]] = []
    if not windows:
        return out
    timed_s = sum(b - a for a, b in windows) / 1e9
    whole: Window = (windows[0][0], windows[-1][1])
    for ch, vals in zip(session.channels, session.values):
        if ch.quantity not in ("power", "energy"):
            continue
        ts, vs = _valid(session.t_ns, vals)
        counts = [sum(1 for t in ts if a <= t <= b) for a, b in windows]
        rep: Dict[str, Any] = {"channel": ch.name, "scope": ch.scope, "label": ch.label, "unit_energy": "J",
                               "n_samples": sum(counts), "min_samples_in_window": min(counts),
                               "timed_s": timed_s, "warnings": []}
        span_s = (ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0.0
        rep["sample_rate_hz"] = (len(ts) - 1) / span_s if span_s > 0 else None
        energy: Optional[float] = None
        if ch.quantity == "energy":
            parts = [counter_delta(ts, vs, w, ch.wrap_at) for w in windows]
            if all(p is not None for p in parts):
                energy = sum(p for p in parts if p is not None)
                rep["method"] = "counter difference over timed windows"
        elif min(counts) >= min_samples:
            parts = [trapezoid_j(ts, vs, w) for w in windows]
            if all(p is not None for p in parts):
                energy = sum(p for p in parts if p is not None)
                rep["method"] = "trapezoid over timed windows"
        if energy is None:
            pt, pv = _power_series(ch, ts, vs)
            whole_j = trapezoid_j(pt, pv, whole) if pt else None
            whole_s = (whole[1] - whole[0]) / 1e9
            if whole_j is not None and whole_s > 0:
                energy = whole_j / whole_s * timed_s
                rep["method"] = "mean power over the whole timed span × timed time"
            else:
                inside = [v for t, v in zip(pt, pv) if whole[0] <= t <= whole[1]] or list(pv)
                if inside:
                    energy = sum(inside) / len(inside) * timed_s
                    rep["method"] = "mean of all job samples × timed time"
            rep["warnings"].append(
                "only %d sample(s) in a %.3f s window (rate %s Hz): too few to integrate per window; "
                "integrated over the whole timed span instead" % (
                    min(counts), min(b - a for a, b in windows) / 1e9,
                    "%.2f" % rep["sample_rate_hz"] if rep["sample_rate_hz"] else "?"))
        in_win = [v for t, v in zip(*_power_series(ch, ts, vs)) if any(a <= t <= b for a, b in windows)]
        rep["energy_j"] = energy
        rep["mean_power_w"] = energy / timed_s if energy is not None and timed_s > 0 else None
        rep["peak_power_w"] = max(in_win) if in_win else None
        idle = (idle_power_w or {}).get(ch.name)
        rep["idle_power_w"] = idle
        rep["energy_above_idle_j"] = energy - idle * timed_s if energy is not None and idle is not None else None
        if inferences:
            rep["inferences"] = inferences
            rep["energy_per_inference_j"] = energy / inferences if energy is not None else None
            above = rep["energy_above_idle_j"]
            rep["energy_per_inference_above_idle_j"] = above / inferences if above is not None else None
        out.append(rep)
    return out


def idle_baseline(plans: Sequence[Plan], duration_s: float, interval_s: float) -> Dict[str, Any]:
    """Sample with nothing running: mean power per power/energy channel and mean temperatures."""
    session = SamplingSession(plans, interval_s).start()
    t0 = time.monotonic_ns()
    time.sleep(duration_s)
    t1 = time.monotonic_ns()
    session.stop()
    power: Dict[str, float] = {}
    temps: Dict[str, float] = {}
    for ch, vals in zip(session.channels, session.values):
        ts, vs = _valid(session.t_ns, vals)
        if ch.quantity in ("power", "energy"):
            pt, pv = _power_series(ch, ts, vs)
            if pv:
                power[ch.name] = sum(pv) / len(pv)
        elif ch.quantity == "temperature" and vs:
            temps[ch.name] = sum(vs) / len(vs)
    return {"duration_s": (t1 - t0) / 1e9, "power_w": power, "temp_c": temps, "n_samples": len(session.t_ns)}
