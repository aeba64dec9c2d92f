"""Quality warnings: each fires on the condition it names, carries a remedy, and stays quiet otherwise."""

from __future__ import annotations

import numpy as np

from benchbench.analysis.quality import JobQualityInput, check_job


def values(seed: int, median_s: float, rel_sd: float, n: int = 50) -> np.ndarray:
    return median_s * (1 + rel_sd * np.random.default_rng(seed).standard_normal(n))


def codes(q: JobQualityInput) -> set[str]:
    ws = check_job(q)
    assert all(w.remedy and w.message and w.severity in ("info", "warning", "error") for w in ws)
    return {w.code for w in ws}


def test_clean_job_has_no_warnings() -> None:
    q = JobQualityInput(values(1, 20e-3, 0.01), calls_per_value=1, timer_resolution_s=70e-9,
                        power_sample_rate_hz=50.0, sampling_overhead_pct=0.3)
    assert codes(q) == set()


def test_unstable_and_few_values() -> None:
    assert "unstable" in codes(JobQualityInput(values(2, 20e-3, 0.15)))
    assert codes(JobQualityInput(values(3, 20e-3, 0.01, n=5))) == {"few-values"}


def test_spread_rule_catches_bimodal_values_with_moderate_sd() -> None:
    x = np.array([10e-3] * 40 + [12.6e-3] * 10)  # sd/mean < 10 %, (p90-p10)/p50 = 26 %
    assert float(x.std(ddof=1) / x.mean()) < 0.10
    assert "unstable" in codes(JobQualityInput(x))


def test_short_values_and_timer_resolution() -> None:
    q = JobQualityInput(values(4, 2e-6, 0.01), calls_per_value=10, timer_resolution_s=1e-6)
    assert {"short-values", "timer-resolution"} <= codes(q)
    assert "short-values" not in codes(JobQualityInput(values(4, 2e-6, 0.01), calls_per_value=1000))


def test_calibration_drift_throttle_overhead_fp16() -> None:
    rounds = [values(5, 20e-3, 0.005, n=10), values(6, 22e-3, 0.005, n=10)]
    q = JobQualityInput(np.concatenate(rounds), rounds_s=rounds, calibration_target_s=0.1,
                        throttle_events=2, sampling_overhead_pct=2.5, precision="fp16",
                        execution_provider="CPUExecutionProvider")
    c = codes(q)
    assert {"calibration", "drift", "throttled", "sampling-overhead", "fp16-on-cpu"} <= c
    throttled = next(w for w in check_job(q) if w.code == "throttled")
    assert throttled.severity == "error"


def test_power_sampling_too_slow_for_the_window() -> None:
    x = values(7, 1e-3, 0.01, n=20)  # 20 ms of timed windows
    assert "power-sampling-slow" in codes(JobQualityInput(x, power_sample_rate_hz=10.0))
    assert "power-sampling-slow" not in codes(JobQualityInput(x, power_sample_rate_hz=1000.0))
    assert "power-sampling-slow" in codes(JobQualityInput(x, power_samples_in_windows=3))


def test_no_values_is_an_error() -> None:
    (w,) = check_job(JobQualityInput(np.array([])))
    assert w.code == "no-values" and w.severity == "error"
