"""Regression-detection quality over many seeds: detection rate of a 5 % step (located within ±1 run) and
false-alarm rate on flat series, for benchbench's detector and, side by side, asv's step detection.

Two noise models, because "~3 % noise" can mean two different things:

* ``raw3``: every run keeps 50 raw latencies with 3 % noise, the run's point is their median, and the
  level wanders 1 % from night to night (what a nightly lab produces; the acceptance scenario);
* ``pointN``: the run's point itself has N % Gaussian noise (no raw values). At 3 % this is beyond any
  detector: ``oracle`` below is the best possible single-change test (known noise, threshold set for
  1 % false alarms) and it reaches neither goal either.

Run: ``pytest tests/perf/test_regression_detection.py -m perf`` (seeds: BENCHBENCH_PERF_SEEDS, default
300; JSON: BENCHBENCH_PERF_OUT, default tests/perf/out/regression_detection.json).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchbench.analysis.compare import JobKey, JobSample
from benchbench.analysis.history import RunRef, build_history

pytestmark = pytest.mark.perf

SEEDS = int(os.environ.get("BENCHBENCH_PERF_SEEDS", "300"))
OUT = Path(os.environ.get("BENCHBENCH_PERF_OUT", Path(__file__).parent / "out" / "regression_detection.json"))
N_RUNS, STEP_AT, STEP = 30, 20, 0.05
KEY = JobKey("board", "workload", "fp32", "none", "")
RESULTS: dict[str, Any] = {}

try:
    from asv import step_detect as asv_step
except ImportError:  # asv is optional: the side-by-side is recorded as unavailable
    asv_step = None


def raw_series(seed: int, step: float) -> list[tuple[RunRef, JobSample]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(N_RUNS):
        level = 20e-3 * (1 + 0.01 * rng.standard_normal()) * ((1 + step) if i >= STEP_AT else 1.0)
        raw = level * np.exp(0.03 * rng.standard_normal(50))
        out.append((RunRef(f"r{i}", float(i)), JobSample(KEY, {"latency.p50": float(np.median(raw))}, raw)))
    return out


def point_series(seed: int, step: float, noise: float) -> list[tuple[RunRef, JobSample]]:
    rng = np.random.default_rng(seed)
    y = 20e-3 * (1 + noise * rng.standard_normal(N_RUNS))
    y[STEP_AT:] *= 1 + step
    return [(RunRef(f"r{i}", float(i)), JobSample(KEY, {"latency.p50": float(v)})) for i, v in enumerate(y)]


def ours(entries: list[tuple[RunRef, JobSample]]) -> list[int]:
    (s,) = build_history(entries, metrics=("latency.p50",))
    return [int(r.run_id[1:]) for r in s.steps]


def asv(entries: list[tuple[RunRef, JobSample]]) -> list[int]:
    assert asv_step is not None
    y = [float(j.metrics["latency.p50"] or 0.0) for _, j in entries]
    _, _, pos = asv_step.detect_regressions(asv_step.detect_steps(y), threshold=0.025)
    return [int(p[1]) for p in pos or []]


def rates(detector: Callable[[list[tuple[RunRef, JobSample]]], list[int]],
          make: Callable[[int, float], list[tuple[RunRef, JobSample]]]) -> dict[str, float]:
    t0 = time.perf_counter()
    hit = sum(any(abs(b - STEP_AT) <= 1 for b in detector(make(s, STEP))) for s in range(SEEDS))
    alarm = sum(bool(detector(make(100_000 + s, 0.0))) for s in range(SEEDS))
    return {"detection_rate": hit / SEEDS, "false_alarm_rate": alarm / SEEDS, "seeds": SEEDS,
            "ms_per_series": 1e3 * (time.perf_counter() - t0) / (2 * SEEDS)}


def oracle(noise: float) -> dict[str, float]:
    """Best single-change test with known noise: max standardised mean difference over splits."""
    rng = np.random.default_rng(7)
    n_sim = 20_000

    def stat(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.cumsum(y, axis=1)
        k = np.arange(3, N_RUNS - 2)
        z = (np.abs((c[:, -1:] - c[:, k - 1]) / (N_RUNS - k) - c[:, k - 1] / k)
             / np.sqrt(1 / k + 1 / (N_RUNS - k)))
        return z.max(1), k[z.argmax(1)]

    null, _ = stat(rng.standard_normal((n_sim, N_RUNS)))
    thr = float(np.quantile(null, 0.99))
    alt = rng.standard_normal((n_sim, N_RUNS))
    alt[:, STEP_AT:] += STEP / noise
    m, loc = stat(alt)
    return {"detection_rate": float(np.mean((m > thr) & (np.abs(loc - STEP_AT) <= 1))),
            "false_alarm_rate": 0.01}


def record(benchmark: Any, name: str, result: dict[str, Any]) -> None:
    RESULTS[name] = result
    benchmark.extra_info[name] = result
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"step": STEP, "step_at": STEP_AT, "runs": N_RUNS, "results": RESULTS},
                              indent=2))


def test_acceptance_raw_noise(benchmark: Any) -> None:
    res: dict[str, Any] = {"benchbench": benchmark.pedantic(rates, args=(ours, raw_series), rounds=1,
                                                            iterations=1)}
    res["asv"] = rates(asv, raw_series) if asv_step is not None else "asv not installed"
    record(benchmark, "raw3", res)
    assert res["benchbench"]["detection_rate"] >= 0.95
    assert res["benchbench"]["false_alarm_rate"] <= 0.01


@pytest.mark.parametrize("noise", [0.01, 0.02, 0.03])
def test_point_noise_sweep(benchmark: Any, noise: float) -> None:
    def make(seed: int, step: float) -> list[tuple[RunRef, JobSample]]:
        return point_series(seed, step, noise)

    res: dict[str, Any] = {"benchbench": benchmark.pedantic(rates, args=(ours, make), rounds=1, iterations=1)}
    res["asv"] = rates(asv, make) if asv_step is not None else "asv not installed"
    res["oracle_bound"] = oracle(noise)
    record(benchmark, f"point{round(noise * 100)}", res)
    # numbers, not goals: at 3 % point noise even the oracle misses the 95 % goal
    assert 0.0 <= res["benchbench"]["false_alarm_rate"] <= 1.0
