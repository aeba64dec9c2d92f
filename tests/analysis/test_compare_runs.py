"""compare_runs on seeded synthetic samples: real shifts reported, small ones not, tails tested properly,
single values compared by ratio only, environment differences warned about."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchbench.analysis.compare import JobKey, JobSample, compare_runs
from benchbench.analysis.gates import parse_gates

KEY = JobKey("pi5", "matmul-256", "fp32", "none", "n=256")
ENV = {"kernel": "6.6.51", "libraries": {"onnxruntime": "1.20.1"}, "governors": {"policy0": "performance"},
       "hostname": "pi5-a", "loadavg": [0.1, 0.2, 0.3]}


def job(latency_s: np.ndarray | None, key: JobKey = KEY, env: dict[str, Any] | None = None,
        **metrics: float) -> JobSample:
    m: dict[str, float | None] = {k.replace("__", "."): v for k, v in metrics.items()}
    if latency_s is not None:
        m.setdefault("latency.p50", float(np.median(latency_s)))
    return JobSample(key=key, metrics=m, latency_s=latency_s, env=env if env is not None else ENV)


def samples(seed: int, median_s: float, rel_sd: float, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return median_s * np.exp(rel_sd * rng.standard_normal(n))


def row(result: Any, metric: str) -> Any:
    return next(r for r in result.rows if r.metric == metric)


def test_real_ten_percent_shift_is_reported_and_trips_the_gate() -> None:
    a, b = job(samples(1, 10e-3, 0.05)), job(samples(2, 11e-3, 0.05))
    res = compare_runs([a], [b], parse_gates(["latency.p50:+5%"]))
    r = row(res, "latency.p50")
    assert r.test == "mannwhitneyu" and r.p_value < 1e-6
    assert r.changed and r.direction == "worse" and r.rel_change == pytest.approx(0.10, abs=0.02)
    assert res.tripped and res.verdicts[0].tripped
    thr = row(res, "throughput")
    assert thr.changed and thr.direction == "worse" and thr.rel_change < -0.07


def test_improvement_is_reported_but_does_not_trip() -> None:
    res = compare_runs([job(samples(1, 10e-3, 0.05))], [job(samples(2, 9e-3, 0.05))],
                       parse_gates(["latency.p50:+5%"]))
    assert row(res, "latency.p50").direction == "better" and not res.tripped


def test_one_percent_shift_is_not_reported() -> None:
    res = compare_runs([job(samples(3, 10e-3, 0.05))], [job(samples(4, 10.1e-3, 0.05))],
                       parse_gates(["latency.p50:+5%"]))
    r = row(res, "latency.p50")
    assert not r.changed and r.direction == "unchanged" and not res.tripped


def test_large_ratio_without_significance_is_not_reported() -> None:
    # 6 noisy values each side: the medians differ by > 5 % by chance, the test says it is noise
    rng = np.random.default_rng(7)
    a = 10e-3 * np.exp(0.3 * rng.standard_normal(6))
    b = a[::-1] * 1.08
    res = compare_runs([job(a)], [job(b)], parse_gates(["latency.p50:+5%"]))
    r = row(res, "latency.p50")
    assert abs(r.rel_change) >= 0.05 and r.significant is False and not r.changed and not res.tripped


def test_same_median_different_spread() -> None:
    rng = np.random.default_rng(11)
    base = rng.standard_normal(2000)
    a, b = 10e-3 * (1 + 0.02 * base), 10e-3 * (1 + 0.10 * base[::-1])
    res = compare_runs([job(a)], [job(b)], parse_gates(["latency.p50:+5%", "latency.p99:+5%"]))
    p50, p99 = row(res, "latency.p50"), row(res, "latency.p99")
    assert not p50.changed and p50.significant is False
    # the tail moved a lot: the quantile bootstrap (not Mann-Whitney) sees it
    assert p99.test == "bootstrap" and p99.significant and p99.changed and p99.rel_change > 0.1
    tripped = {v.gate for v in res.verdicts if v.tripped}
    assert tripped == {"latency.p99:+5%"}


def test_single_values_use_the_ratio_only_and_say_so() -> None:
    a = job(samples(1, 10e-3, 0.05), energy__per_inference=1.0e-3, mem__peak_rss=100e6)
    b = job(samples(2, 10e-3, 0.05), energy__per_inference=1.06e-3, mem__peak_rss=100.5e6)
    res = compare_runs([a], [b], parse_gates(["energy_per_inference:+3%", "mem_peak:+10%"]))
    e = row(res, "energy_per_inference")
    assert e.test is None and e.p_value is None and e.significant is None
    assert "not possible" in (e.note or "") and e.changed and e.direction == "worse"
    verdicts = {v.gate: v for v in res.verdicts}
    assert verdicts["energy_per_inference:+3%"].tripped
    assert "ratio only" in verdicts["energy_per_inference:+3%"].basis
    assert not verdicts["mem_peak:+10%"].tripped


def test_missing_raw_samples_fall_back_to_ratio_only() -> None:
    a = JobSample(KEY, {"latency.p50": 10e-3}, None, ENV)
    b = JobSample(KEY, {"latency.p50": 11e-3}, None, ENV)
    res = compare_runs([a], [b], parse_gates(["latency.p50:+5%"]))
    r = row(res, "latency.p50")
    assert r.test is None and r.significant is None and "not possible" in (r.note or "")
    assert res.tripped


def test_matching_and_unmatched_jobs() -> None:
    other = JobKey("pi5", "matmul-256", "int8", "none", "n=256")
    res = compare_runs([job(samples(1, 1e-3, 0.05)), job(samples(2, 1e-3, 0.05), key=other)],
                       [job(samples(3, 1e-3, 0.05))])
    assert res.only_in_a == (other,) and res.only_in_b == ()
    assert {r.key for r in res.rows} == {KEY}


def test_environment_differences_are_warned() -> None:
    env_b = {**ENV, "kernel": "6.6.60", "hostname": "pi5-b", "loadavg": [2.0, 2.0, 2.0],
             "governors": {"policy0": "ondemand"}}
    res = compare_runs([job(samples(1, 1e-3, 0.05))], [job(samples(2, 1e-3, 0.05), env=env_b)])
    text = "\n".join(res.warnings)
    assert "kernel: 6.6.51 → 6.6.60" in text and "governors.policy0: performance → ondemand" in text
    assert "hostname" not in text and "loadavg" not in text


def test_gate_on_missing_metric_is_not_silent() -> None:
    res = compare_runs([job(samples(1, 1e-3, 0.05))], [job(samples(2, 1e-3, 0.05))],
                       parse_gates(["energy_per_inference:+3%"]))
    assert not res.tripped
    assert any("could not be evaluated" in w for w in res.warnings)


def test_failed_jobs_are_not_compared_and_json_is_finite() -> None:
    bad = JobSample(KEY, {}, None, ENV, status="failed")
    res = compare_runs([bad], [job(samples(1, 1e-3, 0.05))])
    assert not res.rows and any("status failed" in w for w in res.warnings)
    d = res.to_dict()
    assert d["tripped"] is False and isinstance(d["rows"], list)
