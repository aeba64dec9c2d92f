"""Throttling evidence for one job, as a JSON-able verdict ``{"throttled": bool, "evidence": [...]}``,
and the cool-down wait before a job.

Evidence sources:

* Raspberry Pi ``get_throttled`` read before and after the job: a live bit (0–3) set at either end, or a
  sticky bit (16–19) that became set during the job, means throttled. Sticky bits already set before the
  job are history since boot and do not flag the job.
* Clocks inside the timed windows: a clock that held its peak (or the expected clock, e.g. the max under
  the ``performance`` governor) and then stayed more than ``margin`` below it for several consecutive
  samples. Short dips of a single sample, and clusters that never reached their peak while loaded (idle
  cores under ``ondemand``), are not evidence.
* NVIDIA clock-event reasons sampled during the windows (power cap, thermal and hardware slowdown bits).
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .samplers.base import Plan
from .samplers.nvml import THROTTLE_REASONS, reasons
from .samplers.rpi import LIVE_MASK, STICKY_MASK, decode_throttled

Window = Tuple[int, int]
#: relative drop below the reference clock that counts as throttling
CLOCK_MARGIN = 0.05
#: consecutive in-window samples needed at the peak, and below it, for a clock drop to count
CLOCK_HOLD_SAMPLES = 3


def pi_flags_evidence(before: Optional[int], after: Optional[int]) -> List[Dict[str, Any]]:
    ev: List[Dict[str, Any]] = []
    for when, flags in (("before", before), ("after", after)):
        if flags is not None and flags & LIVE_MASK:
            ev.append({"source": "vcgencmd get_throttled", "kind": "live_flags", "when": when,
                       "flags": f"0x{flags:x}", "conditions": decode_throttled(flags & LIVE_MASK)["live"]})
    if before is not None and after is not None:
        new = after & ~before & STICKY_MASK
        if new:
            ev.append({"source": "vcgencmd get_throttled", "kind": "sticky_flags_set_during_job",
                       "before": f"0x{before:x}", "after": f"0x{after:x}",
                       "conditions": decode_throttled(new)["sticky"]})
    return ev


def clock_drop_evidence(name: str, ts: Sequence[int], vs: Sequence[Optional[float]],
                        windows: Sequence[Window], expected: Optional[float] = None,
                        margin: float = CLOCK_MARGIN,
                        hold: int = CLOCK_HOLD_SAMPLES) -> Optional[Dict[str, Any]]:
    """Evidence dict when the clock ``name`` fell below its reference inside the windows, else None."""
    inside = [(t, v) for t, v in zip(ts, vs) if v is not None and any(a <= t <= b for a, b in windows)]
    if len(inside) < hold:
        return None
    ref = expected if expected is not None else max(v for _t, v in inside)
    floor = ref * (1.0 - margin)
    at_peak = 0 if expected is None else hold  # with an expected clock, being low from the start counts
    run: List[Tuple[int, float]] = []
    for t, v in inside:
        if v >= floor:
            at_peak += 1
            run = []
            continue
        if at_peak >= hold:
            run.append((t, v))
            if len(run) >= hold:
                return {"source": "clock", "kind": "clock_below_reference", "channel": name,
                        "reference_mhz": ref,
                        "reference": "expected" if expected is not None else "in-job peak",
                        "margin": margin, "lowest_mhz": min(x[1] for x in run),
                        "first_low_t_ns": run[0][0], "samples_below": len(run)}
    return None


def nvml_evidence(name: str, ts: Sequence[int], vs: Sequence[Optional[float]],
                  windows: Sequence[Window]) -> Optional[Dict[str, Any]]:
    seen = 0
    for t, v in zip(ts, vs):
        if v is not None and any(a <= t <= b for a, b in windows):
            seen |= int(v)
    bad = seen & sum(THROTTLE_REASONS)
    if not bad:
        return None
    return {"source": "nvml", "kind": "clock_event_reasons", "channel": name, "mask": f"0x{seen:x}",
            "reasons": reasons(bad)}


def verdict(channels: Sequence[Any], t_ns: Sequence[int], values: Sequence[Sequence[Optional[float]]],
            windows: Sequence[Window], pi_before: Optional[int] = None, pi_after: Optional[int] = None,
            expected_mhz: Optional[Dict[str, float]] = None, margin: float = CLOCK_MARGIN) -> Dict[str, Any]:
    """Combine all evidence for one job. ``channels``/``t_ns``/``values`` are a SamplingSession's."""
    evidence = pi_flags_evidence(pi_before, pi_after)
    notes: List[str] = []
    if pi_before is not None and pi_before & STICKY_MASK and not evidence:
        notes.append("Pi sticky throttle bits ({}) were already set before the job: history since boot, "
                     "not counted".format(", ".join(decode_throttled(pi_before)["sticky"])))
    for ch, vals in zip(channels, values):
        if ch.quantity == "clock":
            ev = clock_drop_evidence(ch.name, t_ns, vals, windows, (expected_mhz or {}).get(ch.name), margin)
        elif ch.quantity == "state" and ch.name.endswith("clock_event_reasons"):
            ev = nvml_evidence(ch.name, t_ns, vals, windows)
        else:
            continue
        if ev is not None:
            evidence.append(ev)
    out: Dict[str, Any] = {"throttled": bool(evidence), "evidence": evidence}
    if notes:
        out["notes"] = notes
    return out


def cool_down(plans: Sequence[Plan], idle_temp_c: Dict[str, float], margin_c: float = 3.0,
              timeout_s: float = 60.0, poll_s: float = 0.5) -> Dict[str, Any]:
    """Wait until every temperature channel is within ``margin_c`` of its idle value (or the timeout).
    Only the plans with temperature channels are read, and only every ``poll_s``."""
    temp_plans = [p for p in plans if any(c.quantity == "temperature" and c.name in idle_temp_c
                                          for c in p.channels)]
    wanted = {c.name for p in temp_plans for c in p.channels if c.name in idle_temp_c}
    latest: Dict[str, float] = {}  # command-backed plans hand out a value only when fresh
    t0 = time.monotonic()
    hot: Dict[str, float] = {}
    try:
        while True:
            for p in temp_plans:
                for ch, v in zip(p.channels, p.read()):
                    if v is not None and ch.name in wanted:
                        latest[ch.name] = v
            hot = {n: v for n, v in latest.items() if v > idle_temp_c[n] + margin_c}
            if (not hot and set(latest) == wanted) or time.monotonic() - t0 >= timeout_s:
                break
            time.sleep(poll_s)
    finally:
        for p in temp_plans:
            p.close()
    return {"waited_s": time.monotonic() - t0, "margin_c": margin_c, "timeout_s": timeout_s,
            "timed_out": bool(hot), "still_hot_c": hot}
