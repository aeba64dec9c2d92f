"""Throttling verdicts and energy accounting on emulated boards: clocks dropping mid-job, Pi throttle
flags (live vs sticky), energy against the rail simulator's known integral, the too-few-samples fallback,
and the runner attaching energy/throttle/baseline to a real job."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lab import rail_sim
from lab import sysfs_fixtures as fx

from benchbench.agent import throttle
from benchbench.agent.protocol import JobSpec, RunRequest, SamplingPlan, TimingPlan
from benchbench.agent.runner import Agent
from benchbench.agent.samplers import Plan, cpufreq, jetson
from benchbench.agent.samplers.base import Channel
from benchbench.agent.samplers.rpi import read_throttled
from benchbench.agent.samplers.session import SamplingSession, energy_report


def _run_session(plans: list[Plan], duration_s: float, during: Callable[[], None] = lambda: None,
                 interval_s: float = 0.01) -> tuple[SamplingSession, tuple[int, int]]:
    session = SamplingSession(plans, interval_s).start()
    t0 = time.monotonic_ns()
    during()
    time.sleep(max(0.0, duration_s - (time.monotonic_ns() - t0) / 1e9))
    t1 = time.monotonic_ns()
    session.stop()
    return session, (t0, t1)


def _verdict(session: SamplingSession, window: tuple[int, int], **kw: object) -> dict:  # type: ignore[type-arg]
    return throttle.verdict(session.channels, session.t_ns, session.values, [window], **kw)  # type: ignore[arg-type]


def test_clocks_dropping_mid_job_flag_throttled(tmp_path: Path) -> None:
    fx.pi5(tmp_path, arm_khz=2400000)
    plan = cpufreq.probe(str(tmp_path))
    assert isinstance(plan, Plan)

    def drop() -> None:
        time.sleep(0.25)
        fx.set_clock(tmp_path, 0, 1500000)  # firmware caps the ARM clock mid-job

    session, win = _run_session([plan], 0.5, lambda: threading.Thread(target=drop).start())
    v = _verdict(session, win)
    assert v["throttled"] is True
    (ev,) = v["evidence"]
    assert ev["kind"] == "clock_below_reference" and ev["channel"] == "policy0_clock"
    assert ev["reference_mhz"] == 2400 and ev["lowest_mhz"] == 1500
    json.dumps(v)  # JSON-able


def test_steady_clocks_not_throttled(tmp_path: Path) -> None:
    fx.pi5(tmp_path)
    plan = cpufreq.probe(str(tmp_path))
    assert isinstance(plan, Plan)
    session, win = _run_session([plan], 0.3)
    assert _verdict(session, win) == {"throttled": False, "evidence": []}


def test_clock_below_expected_from_start_is_throttled(tmp_path: Path) -> None:
    fx.pi5(tmp_path, arm_khz=1800000)
    plan = cpufreq.probe(str(tmp_path))
    assert isinstance(plan, Plan)
    session, win = _run_session([plan], 0.3)
    assert _verdict(session, win)["throttled"] is False  # no drop seen without a reference
    v = _verdict(session, win, expected_mhz={"policy0_clock": 2400.0})
    assert v["throttled"] and v["evidence"][0]["reference"] == "expected"


def test_single_sample_dip_is_not_throttling() -> None:
    ts = list(range(0, 100, 10))
    vs = [2400.0] * 5 + [1200.0] + [2400.0] * 4
    assert throttle.clock_drop_evidence("c", ts, vs, [(0, 100)]) is None


def test_pi_sticky_only_flags_not_throttled(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fake_tools("rpi", FAKE_BOARD_STATE=str(tmp_path / "s.json"))
    (tmp_path / "s.json").write_text(json.dumps({"throttled": 0x50000}))
    before = read_throttled()
    after = read_throttled()
    assert before == after == 0x50000
    v = throttle.verdict([], [], [], [(0, 1)], pi_before=before, pi_after=after)
    assert v["throttled"] is False and "history since boot" in v["notes"][0]


def test_pi_live_flags_after_job_throttled(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    state = tmp_path / "s.json"
    fake_tools("rpi", FAKE_BOARD_STATE=str(state))
    state.write_text(json.dumps({"throttled": 0x0}))
    before = read_throttled()
    state.write_text(json.dumps({"throttled": 0x50005}))  # under-voltage + throttled during the job
    after = read_throttled()
    v = throttle.verdict([], [], [], [(0, 1)], pi_before=before, pi_after=after)
    assert v["throttled"] is True
    kinds = {e["kind"] for e in v["evidence"]}
    assert kinds == {"live_flags", "sticky_flags_set_during_job"}
    assert v["evidence"][0]["conditions"] == ["under-voltage", "throttled"]


def test_pi_sticky_bit_newly_set_during_job_throttled() -> None:
    v = throttle.verdict([], [], [], [(0, 1)], pi_before=0x0, pi_after=0x40000)
    assert v["throttled"] and v["evidence"][0]["conditions"] == ["throttled"]


def test_nvml_clock_event_reasons_flag_throttled() -> None:
    ch = Channel("gpu0_clock_event_reasons", "state", "bitmask", "nvml")
    v = throttle.verdict([ch], [5, 15], [[1.0, 0x40 | 0x1]], [(0, 20)])
    assert v["throttled"] and v["evidence"][0]["reasons"] == ["HwThermalSlowdown"]
    assert not throttle.verdict([ch], [5], [[1.0]], [(0, 20)])["throttled"]  # GpuIdle only


def test_energy_trapezoid_matches_rail_simulator(tmp_path: Path) -> None:
    hw = fx.jetson_orin_nano(tmp_path, vdd_in=(5000, 1000))
    curr = str(tmp_path / hw.lstrip("/") / "curr1_input")
    log = str(tmp_path / "rail.log")
    schedule = [(0.15, 1000), (0.25, 3000), (0.2, 500), (0.25, 2000), (0.15, 1000)]
    plan = jetson.probe(str(tmp_path))
    assert isinstance(plan, Plan)
    sim = rail_sim.start(curr, log, schedule)
    try:
        deadline = time.monotonic() + 10
        while not (Path(log).exists() and Path(log).read_text()) and time.monotonic() < deadline:
            time.sleep(0.005)
        session = SamplingSession([plan], 0.005).start()
        sim.wait(timeout=10)
        session.stop()
    finally:
        sim.kill()
    steps, end = rail_sim.read_log(log)
    window = (steps[0][0] + 20_000_000, end - 20_000_000)
    exact = rail_sim.exact_energy_j(log, 5000, window)
    (rep,) = [r for r in energy_report(session, [window], inferences=100) if r["channel"] == "vdd_in_power"]
    assert rep["method"] == "trapezoid over timed windows" and not rep["warnings"]
    assert rep["energy_j"] == pytest.approx(exact, rel=0.03)
    assert rep["energy_per_inference_j"] == pytest.approx(rep["energy_j"] / 100)
    assert rep["peak_power_w"] == pytest.approx(15.0)


def test_too_few_samples_integrates_whole_span_and_warns() -> None:
    ch = Channel("wall_power", "power", "W", "ptd", scope="wall")
    session = SamplingSession([], 1.0)
    session.channels = [ch]
    s = 1_000_000_000
    session.t_ns = [0, s, 2 * s, 3 * s, 4 * s]  # a 1 Hz meter
    session.values = [[10.0, 20.0, 20.0, 20.0, 10.0]]
    windows = [(int(1.1 * s), int(1.105 * s)), (int(2.5 * s), int(2.505 * s))]  # two 5 ms windows
    (rep,) = energy_report(session, windows, inferences=2, idle_power_w={"wall_power": 8.0})
    assert rep["warnings"] and "too few" in rep["warnings"][0]
    assert rep["method"].startswith("mean power over the whole timed span")
    assert rep["mean_power_w"] == pytest.approx(20.0)
    assert rep["energy_j"] == pytest.approx(20.0 * 0.01)
    assert rep["energy_above_idle_j"] == pytest.approx(12.0 * 0.01)
    assert rep["energy_per_inference_above_idle_j"] == pytest.approx(0.06)


def test_runner_attaches_energy_throttle_and_idle_baseline(tmp_path: Path) -> None:
    root = tmp_path / "board"
    fx.jetson_orin_nano(root)
    fx.meminfo(root)
    job = JobSpec(job_key="busy", workload="busy", backend="python", precision="fp64", params={"n": 2000},
                  timing=TimingPlan(warmup_s=0.02, min_value_s=0.002, rounds=2, values_per_round=5,
                                    max_timed_s=0.5))
    req = RunRequest(run_id="r1", board="orin-nano-emu", jobs=[job],
                     sampling=SamplingPlan(interval_s=0.01, families=["jetson", "cpufreq", "memory"],
                                           root=str(root), measure_overhead=False))
    agent = Agent(req, str(tmp_path / "results.jsonl"), str(tmp_path), echo=None)
    agent.idle_baseline_s = 0.2
    assert agent.run() == "complete"
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    res = next(x for x in lines if x["type"] == "job")["result"]
    assert res["status"] == "ok", res
    assert res["throttle"] == {"throttled": False, "evidence": []}
    energy = {e["channel"]: e for e in res["energy"]}
    head = energy["jetson_total_power"]
    assert head["scope"] == "module_input" and head["energy_j"] == pytest.approx(5.7 * head["timed_s"],
                                                                                 rel=1e-6)
    assert head["idle_power_w"] == pytest.approx(5.7) and head["energy_above_idle_j"] == pytest.approx(0,
                                                                                                       abs=1e-9)
    assert head["inferences"] > 0
    assert res["preparation"]["idle"]["n_samples"] > 5
    assert res["env"]["before"]["family"]["jetson"]["l4t"] == "R36.4.3"
