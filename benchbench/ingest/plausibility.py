"""Physical plausibility of power and energy figures (issue #10 item 4). Typed agent results in, records out.

A board cannot draw more than its supply, module budget or enforced card limit. A figure above the limit
beyond its uncertainty is a measurement artefact (a counter differenced too finely, a wrong scale), not
a result: its metric keeps no value (so no verdict, regression or matrix cell can use it) and says why,
with the measured figure, in ``unavailable_reason``; a quality warning carries the evidence.

Limits come from the device profile (``power_limits``, carried in the board snapshot) and from the
hardware itself (a channel's ``limit_w``, e.g. NVML's enforced limit), the hardware's winning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..agent.protocol import EnergyReport, JobResult
from ..results.records import Metric, Warning_

#: relative error allowed on a counter-derived peak (differences span >= 40 update-time errors)
PEAK_TOLERANCE = 0.05
#: hardware-enforced limits (NVML) bind an average: short excursions above them are real
ENFORCED_PEAK_FACTOR = 1.25


def limit_for(limit_w: float | None, scope: str | None, source: str,
              limits: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """One channel's bound: the limit its hardware reports, else the profile's tightest for its scope."""
    if limit_w:
        return {"max_w": float(limit_w), "peak_factor": ENFORCED_PEAK_FACTOR,
                "source": f"enforced limit reported by the hardware ({source})"}
    fitting = [lim for lim in limits if not lim.get("scopes") or scope in lim["scopes"]]
    return dict(min(fitting, key=lambda lim: float(lim["max_w"]))) if fitting else None


def _evidence(rep: EnergyReport, lim: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(mean-power evidence, peak evidence) of one channel's energy report; None where plausible."""
    max_w = float(lim["max_w"])
    mean_ev = peak_ev = None
    timed_s = rep.timed_s or 0.0
    mean = rep.mean_power_w
    if mean is not None:
        unc_w = (rep.energy_uncertainty_j or 0.0) / timed_s if timed_s > 0 else 0.0
        if mean - unc_w > max_w:
            mean_ev = (f"mean power {mean:.1f} ± {unc_w:.1f} W ({rep.energy_j or 0.0:.3g} J over "
                       f"{timed_s:.3g} s) is above the {max_w:g} W limit ({lim['source']})")
    peak = rep.peak_power_w
    bound = max_w * float(lim.get("peak_factor") or 1.0)
    if peak is not None and peak * (1 - PEAK_TOLERANCE) > bound:
        peak_ev = (f"peak {peak:.1f} W ({rep.peak_method or 'method not recorded'}) is above "
                   f"{bound:g} W ({max_w:g} W limit x {float(lim.get('peak_factor') or 1.0):g}; "
                   f"{lim['source']})")
    return mean_ev, peak_ev


def check(metrics: Sequence[Metric], result: JobResult,
          limits: Sequence[Mapping[str, Any]]) -> tuple[list[Metric], list[Warning_]]:
    """Metrics with implausible power/energy figures voided (evidence in the reason) and the warnings."""
    channels = {c.channel.name: c.channel for c in result.sensors.channels} if result.sensors else {}
    bad_all: dict[str, str] = {}  # channel source → evidence voiding its energy and power figures
    bad_peak: dict[str, str] = {}  # channel source → evidence voiding its peak only
    warnings: list[Warning_] = []
    for rep in result.energy:
        ch = channels.get(rep.channel)
        if ch is None:
            continue
        lim = limit_for(rep.limit_w or ch.limit_w, ch.scope, ch.source, limits)
        if lim is None:
            continue
        mean_ev, peak_ev = _evidence(rep, lim)
        src = ch.source
        if mean_ev:
            bad_all[src] = mean_ev
        if peak_ev:
            bad_peak[src] = peak_ev
        for ev in (mean_ev, peak_ev):
            if ev:
                warnings.append(Warning_("implausible", f"{ch.name}: {ev}; the figure is not used",
                                         "check the sensor's scale and update period (a counter differenced "
                                         "faster than it updates), and the device profile's power_limits",
                                         "error"))
    out: list[Metric] = []
    for m in metrics:
        ev = None
        if m.source in bad_all and m.name.startswith(("power.", "energy.")):
            ev = bad_all[m.source]
        elif m.source in bad_peak and m.name == "power.peak":
            ev = bad_peak[m.source]
        if ev and m.value is not None:
            why = f"implausible: measured {m.value:.4g} {m.unit}; {ev}"
            m = replace(m, value=None, unavailable_reason=why)
        out.append(m)
    return out, warnings
