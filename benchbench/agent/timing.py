"""The timing engine: timer characterisation, warm-up, iteration calibration and timed rounds.

Every raw value is kept. A value is ``elapsed / number`` for ``number`` back-to-back calls, where
``number`` is calibrated so one value lasts at least ``min_value_s`` (far above the timer's
granularity and call cost, which are measured and stored). Statistics are computed on the host.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

from .protocol import TimingPlan

Clock = Callable[[], int]


@dataclass(frozen=True)
class TimerInfo:
    #: smallest non-zero difference between two back-to-back readings
    resolution_ns: float
    #: cost of one clock call (median over batches)
    call_cost_ns: float
    clock: str = "time.perf_counter_ns"


def characterise_timer(clock: Clock = time.perf_counter_ns, samples: int = 20000) -> TimerInfo:
    deltas: List[int] = []
    for _ in range(samples):
        a = clock()
        b = clock()
        while b == a:  # spin to the next tick: coarse clocks return the same value repeatedly
            b = clock()
        deltas.append(b - a)
    deltas.sort()
    resolution = float(deltas[0])
    batch = 1000
    costs: List[float] = []
    for _ in range(15):
        t0 = clock()
        for _ in range(batch):
            clock()
        costs.append((clock() - t0) / batch)
    costs.sort()
    return TimerInfo(resolution_ns=resolution, call_cost_ns=costs[len(costs) // 2])


@dataclass(frozen=True)
class Round:
    t_start_ns: int  # time.monotonic_ns(), same clock as the samplers' timestamps
    t_end_ns: int
    #: per-call latency with the empty loop's cost subtracted (see ``TimingResult.loop_overhead``)
    values_s: List[float]
    #: the same values as measured, before the subtraction
    raw_values_s: List[float] = field(default_factory=list)


@dataclass(frozen=True)
class TimingResult:
    timer: TimerInfo
    warmup_iters: int
    warmup_s: float
    number: int  # calls per timed value
    calibration: List[Dict[str, float]]
    rounds: List[Round]
    warnings: List[str] = field(default_factory=list)
    #: the timing loop's own cost per call (``for _ in range(number): fn()`` with an empty fn), measured at
    #: the job's start with the same ``number`` and subtracted from every value: per_call_s, number, samples
    loop_overhead: Dict[str, Any] = field(default_factory=dict)

    @property
    def values_s(self) -> List[float]:
        return [v for r in self.rounds for v in r.values_s]


def _time_calls(fn: Callable[[], Any], number: int, clock: Clock) -> int:
    rng = range(number)
    t0 = clock()
    for _ in rng:
        fn()
    return clock() - t0


def warm_up(fn: Callable[[], Any], plan: TimingPlan,
            clock: Clock = time.perf_counter_ns) -> tuple[int, float]:
    iters = 0
    t0 = clock()
    while True:
        fn()
        iters += 1
        elapsed = (clock() - t0) / 1e9
        if iters >= plan.warmup_min_iters and elapsed >= plan.warmup_s:
            return iters, elapsed


def calibrate(fn: Callable[[], Any], min_value_s: float, timer: TimerInfo,
              clock: Clock = time.perf_counter_ns,
              max_number: int = 10**9) -> tuple[int, List[Dict[str, float]]]:
    """Find the number of calls per timed value so one value lasts >= min_value_s.

    The target is also kept >= 1000x the timer resolution and call cost, so quantisation and the two
    clock reads contribute < 0.1 %.
    """
    target_ns = max(min_value_s * 1e9, 1000 * timer.resolution_ns, 1000 * timer.call_cost_ns)
    number = 1
    steps: List[Dict[str, float]] = []
    while True:
        elapsed = _time_calls(fn, number, clock)
        steps.append({"number": float(number), "elapsed_s": elapsed / 1e9})
        if elapsed >= target_ns or number >= max_number:
            return number, steps
        if elapsed <= 0:
            number *= 10
            continue
        # aim 20 % above target; never grow more than 100x per step so one slow call cannot overshoot
        grow = min(100.0, max(1.5, 1.2 * target_ns / elapsed))
        number = min(max_number, math.ceil(number * grow))


#: runs of the empty loop whose median is the overhead per call
OVERHEAD_SAMPLES = 7


#: untimed calls at the start of every round, in seconds
REWARM_S = 0.02


def _empty() -> None:
    return None


class TimedLoop:
    """The engine in steps, so a coordinator can interleave the rounds of several variants: ``prepare()``
    (timer, warm-up, calibration), then ``run_round()`` as often as told, then ``result()``."""

    def __init__(self, fn: Callable[[], Any], plan: TimingPlan, clock: Clock = time.perf_counter_ns,
                 timer: TimerInfo | None = None, empty: Callable[[], Any] = _empty) -> None:
        self.fn = fn
        self.empty = empty
        self.overhead_s = 0.0
        self.overhead: Dict[str, Any] = {}
        self.plan = plan
        self.clock = clock
        self.timer = timer
        self.warm_iters = 0
        self.warm_s = 0.0
        self.number = 1
        self.steps: List[Dict[str, float]] = []
        self.values = plan.values_per_round
        self.rounds: List[Round] = []
        self.warnings: List[str] = []

    def prepare(self) -> None:
        plan = self.plan
        self.timer = self.timer or characterise_timer(self.clock)
        self.warm_iters, self.warm_s = warm_up(self.fn, plan, self.clock)
        self.number, self.steps = calibrate(self.fn, plan.min_value_s, self.timer, self.clock)
        self._measure_overhead()
        per_value_s = max(self.steps[-1]["elapsed_s"], 1e-9)
        budget_values = int(plan.max_timed_s / (per_value_s * plan.rounds))
        if budget_values < self.values:
            self.values = max(1, budget_values)
            self.warnings.append(
                f"values per round reduced from {plan.values_per_round} to {self.values} to stay within "
                f"max_timed_s={plan.max_timed_s:.1f} s")

    def _measure_overhead(self, samples: int = OVERHEAD_SAMPLES) -> None:
        """The same loop with an empty callable and the same ``number``: median cost per call."""
        per_call = sorted(_time_calls(self.empty, self.number, self.clock) / 1e9 / self.number
                          for _ in range(samples))
        oh = per_call[len(per_call) // 2]
        target = self.steps[-1]["elapsed_s"] / self.number
        self.overhead = {"per_call_s": oh, "number": self.number, "samples": samples,
                         "method": f"median of {samples} runs of the timing loop around an empty callable"}
        if oh > 0 and oh < 0.5 * target:
            self.overhead_s = oh
            self.overhead["subtracted"] = True
        else:  # an overhead this large against the value means the measurement of it is off: keep raw
            self.overhead["subtracted"] = False
            if oh > 0:
                self.warnings.append("empty-loop overhead (%.0f ns per call) not subtracted: it is >= half "
                                     "a call" % (oh * 1e9))

    def run_round(self) -> Round:
        gc_was_enabled = gc.isenabled()
        try:
            if self.plan.disable_gc:
                gc.collect()
                gc.disable()
            out: List[float] = []
            # untimed values first (at least REWARM_S): interleaved rounds start after other variants ran or
            # after the coordinator let this worker's pool go quiet (cold caches, sleeping threads, a core
            # that clocked down); the timed values measure the warm, steady state
            t_rewarm = self.clock()
            while True:
                _time_calls(self.fn, self.number, self.clock)
                if self.clock() - t_rewarm >= REWARM_S * 1e9:
                    break
            t_start = time.monotonic_ns()
            for _ in range(self.values):
                out.append(_time_calls(self.fn, self.number, self.clock) / 1e9 / self.number)
            t_end = time.monotonic_ns()
        finally:
            if gc_was_enabled:
                gc.enable()
        oh = self.overhead_s
        rnd = Round(t_start_ns=t_start, t_end_ns=t_end, values_s=[v - oh for v in out] if oh else list(out),
                    raw_values_s=out)
        self.rounds.append(rnd)
        return rnd

    def result(self) -> TimingResult:
        assert self.timer is not None, "prepare() first"
        return TimingResult(timer=self.timer, warmup_iters=self.warm_iters, warmup_s=self.warm_s,
                            number=self.number, calibration=self.steps, rounds=list(self.rounds),
                            warnings=list(self.warnings), loop_overhead=dict(self.overhead))


def measure(fn: Callable[[], Any], plan: TimingPlan, clock: Clock = time.perf_counter_ns,
            timer: TimerInfo | None = None) -> TimingResult:
    """Warm up, calibrate and run ``plan.rounds`` rounds of ``plan.values_per_round`` values."""
    loop = TimedLoop(fn, plan, clock, timer)
    loop.prepare()
    for _ in range(plan.rounds):
        loop.run_round()
    return loop.result()


def steady_loop(fn: Callable[[], Any], window_s: float) -> tuple[int, int, int]:
    """The timed call back to back for at least ``window_s`` (the steady-state energy phase):
    (start ns, end ns, calls), on ``time.monotonic_ns`` like the samplers' timestamps."""
    limit_ns = int(window_s * 1e9)
    calls = 0
    now = time.monotonic_ns
    t0 = now()
    t1 = t0
    while t1 - t0 < limit_ns:
        fn()
        calls += 1
        t1 = now()
    return t0, t1, calls
