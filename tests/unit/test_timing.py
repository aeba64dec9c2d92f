"""Timing engine: calibration and round structure, driven by a deterministic clock passed as a parameter."""

import pytest

from benchbench.agent.protocol import TimingPlan
from benchbench.agent.timing import TimerInfo, calibrate, characterise_timer, measure


class FakeClock:
    """A clock that advances only when the 'workload' runs: each call costs `cost_ns`."""

    def __init__(self, cost_ns: int) -> None:
        self.now = 0
        self.cost_ns = cost_ns
        self.calls = 0

    def __call__(self) -> int:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += self.cost_ns


TIMER = TimerInfo(resolution_ns=40.0, call_cost_ns=45.0)


@pytest.mark.parametrize("cost_ns", [1_000, 100_000, 10_000_000])
def test_calibration_reaches_min_value_without_overshooting(cost_ns):
    clock = FakeClock(cost_ns)
    number, steps = calibrate(clock.work, 0.01, TIMER, clock)
    assert number * cost_ns >= 0.01e9
    # never more than ~1.2x target + one call (plus growth quantisation)
    assert number * cost_ns <= max(1.3 * 0.01e9, cost_ns)
    assert steps[-1]["number"] == number


def test_calibration_respects_timer_resolution_floor():
    clock = FakeClock(10)
    coarse = TimerInfo(resolution_ns=1_000_000.0, call_cost_ns=50.0)  # a 1 ms clock
    number, _ = calibrate(clock.work, 1e-6, coarse, clock)
    assert number * 10 >= 1000 * 1_000_000  # >= 1000 ticks per value


def test_measure_keeps_every_raw_value_and_rounds():
    clock = FakeClock(50_000)
    plan = TimingPlan(warmup_min_iters=5, warmup_s=0.0, min_value_s=0.001, rounds=4, values_per_round=7)
    res = measure(clock.work, plan, clock=clock, timer=TIMER)
    assert len(res.rounds) == 4 and all(len(r.values_s) == 7 for r in res.rounds)
    assert res.warmup_iters == 5
    assert all(v == pytest.approx(50e-6) for v in res.values_s)
    assert res.number * 50_000 >= 1e6


def test_budget_reduces_values_with_a_warning():
    clock = FakeClock(10_000_000)  # 10 ms per call
    plan = TimingPlan(warmup_min_iters=1, warmup_s=0.0, min_value_s=0.01, rounds=5, values_per_round=100,
                      max_timed_s=1.0)
    res = measure(clock.work, plan, clock=clock, timer=TIMER)
    assert len(res.rounds[0].values_s) == 20  # 1 s / (5 rounds × 10 ms)
    assert res.warnings and "reduced" in res.warnings[0]


def test_real_timer_characterisation_is_sane():
    info = characterise_timer(samples=2000)
    assert 0 < info.resolution_ns < 1e6
    assert 0 < info.call_cost_ns < 1e5
