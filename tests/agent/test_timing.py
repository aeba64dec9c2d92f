"""Timing engine: calibration and round structure, driven by a deterministic clock passed as a parameter."""

import pytest

from benchbench.agent.protocol import TimingPlan
from benchbench.agent.timing import TimedLoop, TimerInfo, calibrate, characterise_timer, measure


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


@pytest.mark.slow
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


class LoopClock(FakeClock):
    """Every call through the timing loop costs ``loop_ns`` on top of the work (the for-loop and the call)."""

    def __init__(self, cost_ns: int, loop_ns: int) -> None:
        super().__init__(cost_ns)
        self.loop_ns = loop_ns

    def work(self) -> None:
        self.now += self.loop_ns
        super().work()

    def empty(self) -> None:
        self.now += self.loop_ns


def test_loop_overhead_is_measured_subtracted_and_raw_values_kept():
    clock = LoopClock(cost_ns=1_000, loop_ns=30)
    plan = TimingPlan(warmup_min_iters=2, warmup_s=0.0, min_value_s=0.001, rounds=3, values_per_round=4)
    loop = TimedLoop(clock.work, plan, clock=clock, timer=TIMER, empty=clock.empty)
    loop.prepare()
    for _ in range(plan.rounds):
        loop.run_round()
    res = loop.result()
    assert res.loop_overhead["per_call_s"] == pytest.approx(30e-9)
    assert res.loop_overhead["number"] == res.number and res.loop_overhead["subtracted"] is True
    assert all(v == pytest.approx(1_000e-9) for v in res.values_s)  # the kernel's own cost
    assert all(v == pytest.approx(1_030e-9) for r in res.rounds for v in r.raw_values_s)


def test_an_implausibly_large_overhead_is_not_subtracted():
    clock = LoopClock(cost_ns=10, loop_ns=30)  # the loop costs 3x the work: keep raw, say why
    plan = TimingPlan(warmup_min_iters=1, warmup_s=0.0, min_value_s=0.0001, rounds=1, values_per_round=2)
    res = measure(clock.work, plan, clock=clock, timer=TIMER)
    assert res.loop_overhead["subtracted"] is False  # the default empty() does not move this clock: 0
    loop = TimedLoop(clock.work, plan, clock=clock, timer=TIMER, empty=lambda: clock.empty() or clock.empty())
    loop.prepare()
    loop.run_round()
    out = loop.result()
    assert out.loop_overhead["subtracted"] is False and "not subtracted" in out.warnings[-1]
    assert out.rounds[0].values_s == out.rounds[0].raw_values_s


def test_a_job_record_carries_the_overhead_and_raw_values(tmp_path):
    from benchbench.agent.protocol import JobLine, JobResult, JobSpec
    from benchbench.agent.worker import run_job
    from benchbench.ingest import job_record

    job = JobSpec(job_key="k", workload="busy", backend="python", precision="fp64", params={"n": 10},
                  timing=TimingPlan(warmup_s=0.0, min_value_s=0.001, rounds=2, values_per_round=3))
    res = run_job(job, str(tmp_path))
    rec = job_record("r", "local", JobLine(result=JobResult.from_dict(res), spec=job), None)
    oh = rec.details["timing"]["loop_overhead"]
    assert oh["per_call_s"] > 0 and oh["number"] == rec.details["timing"]["number"]
    rounds = rec.raw["latency_rounds"]
    if oh["subtracted"]:
        assert "minus the timing loop's own cost" in (rec.timed_window or "")
        assert rounds[0]["raw_values_s"][0] - rounds[0]["values_s"][0] == pytest.approx(oh["per_call_s"])
    assert len(rounds[0]["raw_values_s"]) == len(rounds[0]["values_s"]) == 3
