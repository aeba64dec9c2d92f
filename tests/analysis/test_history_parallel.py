"""Step detection in a process pool (what `publish --workers N` does) flags exactly what the serial path
flags: same series, same steps, same p-values."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from benchbench.analysis.compare import JobKey, JobSample
from benchbench.analysis.history import RunRef, build_history
from benchbench.analysis.stepdetect import BATCH, detect_many


def _entries(n_keys: int, n_runs: int = 24) -> list[tuple[RunRef, JobSample]]:
    """Every third key steps up 8 % at run 16, every fifth has throttled runs, the rest are flat."""
    rng = np.random.default_rng(7)
    refs = [RunRef(f"r{i:02d}", 1.7e9 + 86400 * i) for i in range(n_runs)]
    out = []
    for k in range(n_keys):
        key = JobKey(f"b{k % 4}", f"w{k // 4}", "fp32", "none", "")
        for i, ref in enumerate(refs):
            level = 5e-3 * (1 + 0.01 * rng.standard_normal()) * (1.08 if k % 3 == 0 and i >= 16 else 1.0)
            mets = {"latency.p50": level, "latency.sd": level * 0.03, "latency.n": 60.0,
                    "energy.per_inference": level * 4.0, "mem.peak_rss": 2.0**27}
            out.append((ref, JobSample(key, mets, throttled=k % 5 == 0 and i in (5, 6))))
    return out


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def test_parallel_history_flags_what_the_serial_one_does(pool: ProcessPoolExecutor) -> None:
    entries = _entries(BATCH // 3 + 12)  # × 3 metrics: more series than one batch, so the pool is used
    serial = build_history(entries)
    parallel = build_history(entries, executor=pool)
    assert len(serial) > BATCH
    assert parallel == serial
    flagged = {s.key for s in serial if s.metric == "latency.p50" and s.regressions}
    assert flagged == {s.key for s in serial if s.metric == "latency.p50" and int(s.key.workload[1:]) * 4
                       + int(s.key.board[1:]) in range(0, 10**6, 3)}  # every stepped key, nothing else
    assert all(r.run_id in {"r15", "r16", "r17"} for s in serial for r in s.regressions)


def test_detect_many_split_does_not_change_the_result(pool: ProcessPoolExecutor) -> None:
    rng = np.random.default_rng(3)
    series = [(np.exp(0.02 * rng.standard_normal(30)) * (1 + 0.1 * (np.arange(30) >= 12) * (i % 2)), 0.0)
              for i in range(20)]
    series.append((np.empty(0), 0.0))  # a series whose points were all excluded
    serial = detect_many(series)
    assert detect_many(series, executor=pool, batch=3) == serial
    assert [bool(s) for s in serial] == [i % 2 == 1 for i in range(20)] + [False]
