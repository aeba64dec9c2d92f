"""Nightly history: the acceptance simulation (30 runs, ~3 % noise, 5 % step at run 20), flat series,
throttled and unhealthy points, and the step detector's edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from benchbench.analysis.compare import JobKey, JobSample
from benchbench.analysis.history import RunRef, build_history, fleet_regressions
from benchbench.analysis.stepdetect import detect_steps

KEY = JobKey("jetson-orin-nano", "resnet-mini", "int8", "none", "")


def nightly(seed: int, step_at: int | None, *, n_runs: int = 30, step: float = 0.05, raw_noise: float = 0.03,
            run_jitter: float = 0.01, values: int = 50) -> list[tuple[RunRef, JobSample]]:
    """Seeded nightly runs: each run keeps `values` raw latencies with ~3 % noise around a run level that
    itself wanders by `run_jitter` from night to night; a step multiplies the level from `step_at` on."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_runs):
        level = 20e-3 * (1 + run_jitter * rng.standard_normal())
        if step_at is not None and i >= step_at:
            level *= 1 + step
        raw = level * np.exp(raw_noise * rng.standard_normal(values))
        job = JobSample(KEY, {"latency.p50": float(np.median(raw))}, raw)
        out.append((RunRef(f"run-{i:02d}", 1.7e9 + 86400 * i), job))
    return out


def with_flags(entries: list[tuple[RunRef, JobSample]], runs: range,
               **flags: bool) -> list[tuple[RunRef, JobSample]]:
    out = []
    for i, (ref, j) in enumerate(entries):
        if i in runs:
            j = JobSample(j.key, j.metrics, j.latency_s, j.env, j.status, **flags)
        out.append((ref, j))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_nightly_step_at_run_20_is_flagged_there(seed: int) -> None:
    series = build_history(nightly(seed, 20), metrics=("latency.p50",))
    (s,) = series
    (reg,) = s.regressions
    assert reg.run_id in {"run-19", "run-20", "run-21"}
    assert reg.rel_change == pytest.approx(0.05, abs=0.02) and reg.direction == "worse"
    assert reg.p_value < 0.01 and fleet_regressions(series) == (reg,)


@pytest.mark.parametrize("seed", range(5))
def test_flat_nightly_series_gets_no_flag(seed: int) -> None:
    (s,) = build_history(nightly(1000 + seed, None), metrics=("latency.p50",))
    assert s.steps == () and len(s.points) == 30


def test_throttled_runs_do_not_raise_a_regression() -> None:
    hot = nightly(3, 20, step=0.10)
    assert build_history(hot, metrics=("latency.p50",))[0].regressions  # the shift is real in the data
    (s,) = build_history(with_flags(hot, range(20, 30), throttled=True), metrics=("latency.p50",))
    assert s.regressions == ()
    assert sum(p.excluded for p in s.points) == 10
    assert {p.exclude_reason for p in s.points if p.excluded} == {"throttled during the job"}


def test_unhealthy_board_points_are_excluded_but_a_real_step_still_shows() -> None:
    entries = with_flags(nightly(4, 15), range(3), healthy=False)
    (s,) = build_history(entries, metrics=("latency.p50",))
    assert [p.excluded for p in s.points[:4]] == [True, True, True, False]
    (reg,) = s.regressions
    assert reg.run_id in {"run-14", "run-15", "run-16"}


def test_improvement_is_a_step_but_not_a_regression() -> None:
    (s,) = build_history(nightly(5, 20, step=-0.06), metrics=("latency.p50",))
    (step,) = s.steps
    assert step.direction == "better" and s.regressions == ()


def test_small_step_below_minimum_effect_is_ignored() -> None:
    # 1.5 % step with tiny noise: statistically clear, practically irrelevant
    (s,) = build_history(nightly(6, 20, step=0.015, raw_noise=0.002, run_jitter=0.001),
                         metrics=("latency.p50",))
    assert s.steps == ()


def test_detector_edge_cases() -> None:
    assert detect_steps([1.0, 1.0, 1.0]) == ()
    assert detect_steps([5.0] * 30) == ()
    with pytest.raises(ValueError):
        detect_steps([1.0, float("nan"), 1.0, 1.0, 1.0, 1.0])
    y = [10.0] * 15 + [12.0] * 15
    (st,) = detect_steps(y)
    assert st.index == 15 and st.rel_change == pytest.approx(0.2) and (st.n_before, st.n_after) == (15, 15)


def test_detection_is_deterministic() -> None:
    entries = nightly(8, 20)
    assert build_history(entries) == build_history(entries)
