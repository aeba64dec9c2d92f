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
from .counters import CounterSeries

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

    def start(self) -> SamplingSession:
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


def counter_delta(ts: Sequence[int], vs: Sequence[float], w: Window, wrap_at: Optional[float],
                  update_period_s: Optional[float] = None) -> Optional[float]:
    """Increase of a (possibly wrapping, step-updating) counter over w (see ``counters``)."""
    return CounterSeries(ts, vs, wrap_at, update_period_s).energy_between(w[0], w[1])[0]


def summarise_channel(ch: Channel, ts: Sequence[int], vs: Sequence[float],
                      windows: Sequence[Window]) -> Dict[str, Any]:
    inside = [v for t, v in zip(ts, vs) if any(a <= t <= b for a, b in windows)]
    dur_s = sum(b - a for a, b in windows) / 1e9
    res: Dict[str, Any] = {"n_in_windows": len(inside), "window_s": dur_s}
    if ch.quantity == "energy":
        series = CounterSeries(ts, vs, ch.wrap_at, ch.update_period_s)
        parts = [series.energy_between(a, b)[0] for a, b in windows]
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
    """Sampled power (W) of a power channel, or power derived from an energy counter: differences between
    update points at least one update period apart (see ``counters``), placed at their midpoints."""
    if ch.quantity == "power":
        return list(ts), list(vs)
    segs = CounterSeries(ts, vs, ch.wrap_at, ch.update_period_s).power_segments()
    return [int((a + b) / 2) for a, b, _ in segs], [w for _, _, w in segs]


def _counter_energy(ch: Channel, ts: Sequence[int], vs: Sequence[float], windows: Sequence[Window],
                    rep: Dict[str, Any]) -> Optional[float]:
    """Energy of a counter over the windows, with its quantisation uncertainty and the derived peak."""
    series = CounterSeries(ts, vs, ch.wrap_at, ch.update_period_s)
    parts = [series.energy_between(a, b) for a, b in windows]
    if not parts or any(e is None for e, _ in parts):
        return None
    energy = sum(e for e, _ in parts if e is not None)
    rep["method"] = min({m for _, m in parts}) + " (timed windows)"
    rep["update_period_s"] = series.period_s
    timed_s = sum(b - a for a, b in windows) / 1e9
    if series.period_s and timed_s > 0:
        # ± one update period × power at each window; independent windows add in quadrature
        rep["energy_uncertainty_j"] = series.period_s * abs(energy) / timed_s * len(windows) ** 0.5
    segs = [w for a, b, w in series.power_segments() if any(a < wb and b > wa for wa, wb in windows)]
    if segs:
        rep["peak_power_w"] = max(segs)
        rep["peak_method"] = (f"counter differences over >= {series.min_span_ns() / 1e6:.0f} ms (>= one "
                              f"update period of {(series.period_s or 0) * 1e3:.0f} ms)")
    return energy


def energy_report(session: SamplingSession, windows: Sequence[Window], inferences: Optional[int],
                  idle_power_w: Optional[Dict[str, float]] = None,
                  min_samples: int = MIN_SAMPLES_PER_WINDOW) -> List[Dict[str, Any]]:
    """Energy per power/energy channel over the timed windows: total and per inference with its ``±``
    (counter quantisation), above idle, mean and peak power (and how the peak was taken), sample
    count/rate, and a warning with a whole-span fallback when a power channel holds fewer than
    ``min_samples`` samples per window (a 1 Hz meter against 5 ms inferences)."""
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
        if ch.limit_w is not None:
            rep["limit_w"] = ch.limit_w
        span_s = (ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0.0
        rep["sample_rate_hz"] = (len(ts) - 1) / span_s if span_s > 0 else None
        energy: Optional[float] = None
        if ch.quantity == "energy":
            energy = _counter_energy(ch, ts, vs, windows, rep)
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
                "only {} sample(s) in a {:.3f} s window (rate {} Hz): too few to integrate per window; "
                "integrated over the whole timed span instead".format(
                    min(counts), min(b - a for a, b in windows) / 1e9,
                    "{:.2f}".format(rep["sample_rate_hz"]) if rep["sample_rate_hz"] else "?"))
        if ch.quantity == "power":
            in_win = [v for t, v in zip(ts, vs) if any(a <= t <= b for a, b in windows)]
            rep["peak_power_w"] = max(in_win) if in_win else None
            rep["peak_method"] = "instantaneous power channel, max sample in the timed windows"
        rep.setdefault("peak_power_w", None)
        unc = rep.get("energy_uncertainty_j")
        if unc is not None and energy and unc > 0.1 * abs(energy):
            rep["warnings"].append(
                "energy ± {:.0f} %: the timed windows are short against the counter's {:.0f} ms update "
                "period; the steady-state energy window is the number to trust".format(
                    unc / abs(energy) * 100, (rep.get("update_period_s") or 0) * 1e3))
        rep["energy_j"] = energy
        rep["mean_power_w"] = energy / timed_s if energy is not None and timed_s > 0 else None
        idle = (idle_power_w or {}).get(ch.name)
        rep["idle_power_w"] = idle
        rep["energy_above_idle_j"] = (energy - idle * timed_s if energy is not None and idle is not None
                                      else None)
        if inferences:
            rep["inferences"] = inferences
            rep["energy_per_inference_j"] = energy / inferences if energy is not None else None
            if unc is not None:
                rep["energy_per_inference_uncertainty_j"] = unc / inferences
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
        if ch.quantity == "energy":
            mean_w = CounterSeries(ts, vs, ch.wrap_at, ch.update_period_s).mean_power_w()
            if mean_w is not None:
                power[ch.name] = mean_w
        elif ch.quantity == "power" and vs:
            power[ch.name] = sum(vs) / len(vs)
        elif ch.quantity == "temperature" and vs:
            temps[ch.name] = sum(vs) / len(vs)
    return {"duration_s": (t1 - t0) / 1e9, "power_w": power, "temp_c": temps, "n_samples": len(session.t_ns)}
