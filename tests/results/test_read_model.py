"""The one read model (results.queries): ``history`` and the published site read the same rows, and they give
the series whole-run loads gave; params keys stay those that earlier runs stored (#14.4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from lab.storegen import JobSpec, job_record, matrix, store_run

from benchbench.analysis.adapt import entries_from_rows, run_samples, series_params, stored_names
from benchbench.analysis.compare import JobSample
from benchbench.analysis.history import DEFAULT_METRICS, RunRef, build_history
from benchbench.errors import StoreError
from benchbench.report import sitedata
from benchbench.results.keys import params_key
from benchbench.results.queries import job_rows, summary_run
from benchbench.results.rows import latency_values, stored_latency_stats
from benchbench.results.store import Store
from benchbench.workloads.plan import job_key


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "r.db")
    specs = matrix(["pi5", "orin"], ["resnet18"], ["fp32"])
    specs.append(JobSpec("pi5", "resnet18", "fp16", status="failed"))
    for i in range(4):
        store_run(store, f"n{i}", specs, seed=i, started_at=1.7e9 + 86400 * i,
                  level_factor={"pi5": 1.4 if i >= 2 else 1.0},
                  throttled=frozenset({"orin"} if i == 1 else ()))
    # a run stored before the latency statistics were: only the median, and the raw rounds
    store.create_run("old", "nightly", None, None, "0.1.0", {}, {}, started_at=1.7e9 - 86400)
    store.record_board("old", "pi5", {}, status="unhealthy")
    rec = job_record("old", JobSpec("pi5", "resnet18", "fp32", level_s=1e-3), np.random.default_rng(9))
    store.add_job(replace(rec, metrics=tuple(m for m in rec.metrics
                                             if m.name not in ("latency.sd", "latency.n"))))
    store.finish_run("old", "complete")
    return store


def _whole_run_entries(store: Store) -> list[tuple[RunRef, JobSample]]:
    """What ``history`` read before the read model: every run loaded whole, raw values included."""
    runs = sorted(store.list_runs(), key=lambda r: (r.started_at, r.run_id))
    return [(RunRef(i.run_id, i.started_at), s) for i in runs for s in run_samples(store.load_run(i.run_id))]


def test_history_rows_give_the_series_whole_runs_gave(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rows = job_rows(store, stored_names(DEFAULT_METRICS))
    assert {r.run_id for r in rows} == {"old", *(f"n{i}" for i in range(4))}
    assert all(r.board_status == "unhealthy" for r in rows if r.run_id == "old")
    assert any(r.throttled for r in rows) and not any(r.throttled for r in rows if r.run_id != "n1")
    series = build_history(entries_from_rows(rows), DEFAULT_METRICS)
    assert series == build_history(_whole_run_entries(store), DEFAULT_METRICS)
    # the old run's point (unhealthy board, statistics from its raw values) and the throttled ones are there
    assert {p.exclude_reason for s in series for p in s.points} >= {"board failed its health check",
                                                                     "throttled during the job"}
    # the site reads through the same model
    assert build_history(sitedata.history_entries(store, DEFAULT_METRICS), DEFAULT_METRICS) == series


def test_raw_latencies_are_read_only_where_stored_statistics_are_missing(tmp_path: Path) -> None:
    rows = job_rows(_store(tmp_path), ["latency.p50"])
    old = [r for r in rows if r.run_id == "old"]
    assert len(old) == 1 and old[0].latency_s is not None and len(old[0].latency_s) == 60
    assert all(r.latency_s is None for r in rows if r.run_id != "old")


def test_board_and_workload_narrow_the_rows(tmp_path: Path) -> None:
    rows = job_rows(_store(tmp_path), ["latency.p50"], board="orin", workload="resnet18")
    assert rows and {(r.board, r.workload) for r in rows} == {("orin", "resnet18")}


def test_params_keys_match_those_earlier_runs_stored() -> None:
    # job keys exactly as the code before #14 wrote them into the store (resume compares against these)
    assert job_key("gemm", "onnxruntime", "fp32", "none", {"n": 512, "m": 512, "k": 512}) == \
        'gemm|onnxruntime|fp32|none|{"k":512,"m":512,"n":512}'
    assert job_key("bench_sum", "pytest-benchmark", "fp32", "none", {}) == \
        "bench_sum|pytest-benchmark|fp32|none|{}"
    assert params_key({}) == "{}"
    # a history series key: the same canonical text, empty (no "[{}]" in labels/JSON) for a job without params
    assert series_params({"n": 512, "m": 512, "k": 512}) == '{"k":512,"m":512,"n":512}'
    assert series_params({}) == ""


def test_jobs_without_params_from_old_and_new_runs_form_one_series(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    spec = JobSpec("pi5", "bench_sum", "fp32", params=())
    for i in range(2):
        store_run(store, f"r{i}", [spec], seed=i, started_at=1.7e9 + i)
    series = build_history(entries_from_rows(job_rows(store, ["latency.p50"])), ["latency.p50"])
    assert len(series) == 1 and len(series[0].points) == 2
    assert series[0].key.params_key == "" and series[0].key.label() == "pi5 bench_sum fp32/none"


def test_one_test_decides_where_raw_latencies_are_needed() -> None:
    # the read model decodes raw values exactly where history's standard error falls back to them
    assert stored_latency_stats({"latency.p50": 1e-3, "latency.sd": 1e-4, "latency.n": 3}) == (1e-3, 1e-4, 3)
    for lacking in ({"latency.p50": 1e-3, "latency.sd": 1e-4}, {"latency.p50": 1e-3, "latency.sd": None,
                    "latency.n": 9}, {"latency.p50": 1e-3, "latency.sd": float("nan"), "latency.n": 9},
                    {"latency.p50": 1e-3, "latency.sd": 1e-4, "latency.n": 2}):
        assert stored_latency_stats(lacking) is None
    rounds = [{"values_s": [1.0, 2.0]}, {"values_s": None}, {}, {"values_s": [3.0]}]
    assert latency_values(rounds) == (1.0, 2.0, 3.0)
    assert latency_values(None) == ()


def test_summary_run_of_a_missing_run_raises_what_load_run_raises(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(StoreError) as summary:
        summary_run(store, "nope", ["latency.p50"])
    with pytest.raises(StoreError) as whole:
        store.load_run("nope")
    assert str(summary.value) == str(whole.value) and "no run 'nope'" in str(summary.value)
    run = summary_run(store, "n0", ["latency.p50"])
    assert run.info == store.load_run("n0").info and run.boards == store.load_run("n0").boards
    assert all({m.name for m in j.metrics} <= {"latency.p50"} for j in run.jobs)
