"""pytest-benchmark suites on a board: the controller collects the benchmark tests of a file, the agent runs
each one with pytest --benchmark-json, and the stored jobs carry latency stats from the raw values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.results.store import Store
from benchbench.workloads.registry import expand

BENCH_FILE = '''\
import time

import pytest


def test_sleep(benchmark):
    benchmark(time.sleep, 0.0005)


@pytest.mark.parametrize("n", [10, 2000])
def test_sorted(benchmark, n):
    benchmark(sorted, list(range(n, 0, -1)))


def test_not_a_benchmark():
    assert True
'''
SUITE = """\
name: pb
timing: {warmup_s: 0.02, min_value_s: 0.0001, rounds: 2, values_per_round: 10, max_timed_s: 0.3}
sampling: {interval_s: 0.01, measure_overhead: false}
jobs:
  - workload: pytest-benchmark
    params: {file: bench_ops.py}
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "bench_ops.py").write_text(BENCH_FILE)
    p = tmp_path / "pb.yaml"
    p.write_text(SUITE)
    return p


@pytest.mark.slow
def test_entry_expands_to_one_job_per_benchmark(suite: Path, tmp_path: Path) -> None:
    jobs = expand(load_suite(suite), str(suite), tmp_path / "cache")
    assert [j.spec.params["select"] for j in jobs] == ["test_sleep", "test_sorted[10]", "test_sorted[2000]"]
    assert {j.spec.backend for j in jobs} == {"pytest-benchmark"}
    assert jobs[0].artifact_path is not None and jobs[0].artifact_path.read_text() == BENCH_FILE
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUITE.replace("{file: bench_ops.py}", "{file: bench_ops.py, select: test_nope}"))
    with pytest.raises(ConfigError, match="has no test 'test_nope'") as err:
        expand(load_suite(bad), str(bad), tmp_path / "cache")
    assert err.value.key == "jobs[0].params.select"


@pytest.mark.slow
def test_run_stores_each_benchmark_with_raw_values(suite: Path, tmp_path: Path, bb, bb_env) -> None:  # type: ignore[no-untyped-def]
    res = bb("run", "--suite", str(suite), "--db", "r.db", "--json", env=bb_env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    outcome = json.loads(res.stdout)
    assert outcome["statuses"] == {"ok": 3}
    run = Store(tmp_path / "r.db").load_run(outcome["run_id"])
    jobs = {j.workload: j for j in run.jobs}
    assert set(jobs) == {"test_sleep", "test_sorted[10]", "test_sorted[2000]"}
    for name, job in jobs.items():
        assert job.backend == "pytest-benchmark" and job.status == "ok"
        assert job.timed_window == "pytest-benchmark's own timer around the test's benchmark() target"
        raw = [v for r in job.raw["latency_rounds"] for v in r["values_s"]]
        bench = job.details["extra"]["benchmark"]
        assert bench["name"] == name and bench["stats"]["rounds"] == len(raw) >= 20
        # the stored stats are recomputed from pytest-benchmark's raw values
        assert job.value("latency.p50") == pytest.approx(float(np.percentile(raw, 50)))
        assert job.value("latency.min") == pytest.approx(min(raw)) == pytest.approx(bench["stats"]["min"])
        assert job.value("mem.peak_rss") > 1e6
    sleep = jobs["test_sleep"].value("latency.p50")
    assert 0.0005 <= sleep < 0.05
    assert jobs["test_sorted[10]"].value("latency.p50") < jobs["test_sorted[2000]"].value("latency.p50")
