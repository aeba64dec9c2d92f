"""Sensor timing measured at probe time, not assumed: per channel the update period (median interval
between value changes while polling fast) and the read cost (the channel's share of its plan's read).

All plans are polled in one shared loop of at most ``max_s`` (about a second), each at a rate that fits
it: a cheap sysfs read every millisecond, a plan whose read costs more at most ``max_duty`` of the time
(a command-backed plan's read only hands over its thread's latest result, so it is cheap). The loop
ends early once every power/energy channel has shown enough changes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional, Sequence

from .base import Plan

FAST_POLL_S = 0.001
MAX_DUTY = 0.05
#: changes per power/energy channel after which the loop may stop early
ENOUGH_CHANGES = 8


def _median(xs: Sequence[float]) -> Optional[float]:
    if not xs:
        return None
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


class _Track:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        n = len(plan.channels)
        self.last: List[Optional[float]] = [None] * n
        self.changes: List[List[int]] = [[] for _ in range(n)]
        self.costs_ns: List[int] = []
        self.poll_ns = int(FAST_POLL_S * 1e9)
        self.due_ns = 0

    def poll(self) -> None:
        t0 = time.monotonic_ns()
        vals = self.plan.read()
        t1 = time.monotonic_ns()
        self.costs_ns.append(t1 - t0)
        # a plan that costs more than MAX_DUTY of its poll interval is polled more slowly
        self.poll_ns = max(int(FAST_POLL_S * 1e9), int(_median(self.costs_ns[-5:]) or 0) * int(1 / MAX_DUTY))
        self.due_ns = t0 + self.poll_ns
        for i, v in enumerate(vals):
            if v is None:
                continue
            if self.last[i] is not None and v != self.last[i]:
                self.changes[i].append((t0 + t1) // 2)
            self.last[i] = v


def measure(plans: Sequence[Plan], max_s: float = 1.0, min_s: float = 0.25) -> Dict[str, float]:
    """Poll every plan for up to ``max_s`` and record ``update_period_s`` / ``read_cost_s`` on its channels
    (the plans' channel lists are replaced by updated copies). Returns the loop's own figures."""
    tracks = [_Track(p) for p in plans if p.channels]
    watched = [(tr, i) for tr in tracks for i, c in enumerate(tr.plan.channels)
               if c.quantity in ("power", "energy")]
    if not watched:
        max_s = min(max_s, min_s)  # temperatures/clocks: a short look is enough
    start = time.monotonic_ns()
    end = start + int(max_s * 1e9)
    polls = 0
    while tracks:
        now = time.monotonic_ns()
        if now >= end:
            break
        if (now - start >= min_s * 1e9 and watched
                and all(len(tr.changes[i]) > ENOUGH_CHANGES for tr, i in watched)):
            break
        for tr in tracks:
            if tr.due_ns <= now:
                tr.poll()
                polls += 1
        nxt = min(tr.due_ns for tr in tracks)
        delay = (min(nxt, end) - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
    elapsed_s = (time.monotonic_ns() - start) / 1e9
    for tr in tracks:
        share = (_median(tr.costs_ns) or 0) / 1e9 / max(len(tr.plan.channels), 1)
        new = []
        for i, ch in enumerate(tr.plan.channels):
            ch_times = tr.changes[i]
            period = _median([ch_times[k] - ch_times[k - 1] for k in range(1, len(ch_times))]) \
                if len(ch_times) >= 3 else None
            new.append(dataclasses.replace(ch, update_period_s=period / 1e9 if period else None,
                                           read_cost_s=share))
        tr.plan.channels = new
        tr.plan.close()  # command threads and open files are restarted by the next session
    return {"duration_s": elapsed_s, "polls": polls}

