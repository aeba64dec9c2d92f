"""`benchbench export` round-trips the stored values exactly; `benchbench import pytest-benchmark` stores a
real pytest-benchmark JSON (made here by running pytest) as a run that joins `history`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from lab.storegen import JobSpec, matrix, store_run

from benchbench.cli.main import main
from benchbench.results.store import Store


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("exp") / "r.db"
    store = Store(db)
    specs = matrix(["pi5", "orin <nano>"], ["resnet18", "gemm"], ["fp32", "int8"])
    specs.append(JobSpec("pi5", "yolo", "int8", status="unsupported"))
    store_run(store, "r1", specs, seed=1, started_at=1.7e9)
    store_run(store, "r2", specs, seed=2, started_at=1.7e9 + 86400)
    return db


def _expected(store: Store, run_id: str) -> dict[tuple[str, str, str], tuple[float | None, str, str | None]]:
    out = {}
    for j in store.load_run(run_id).jobs:
        if not j.metrics:
            out[(j.board, j.job_key, "")] = (None, "", None)
        for m in j.metrics:
            out[(j.board, j.job_key, m.name)] = (m.value, m.unit, m.unavailable_reason)
    return out


def _got(df: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float | None, str, str | None]]:
    out = {}
    for row in df.itertuples(index=False):
        name = "" if not isinstance(row.metric, str) else row.metric
        value = None if pd.isna(row.value) else float(row.value)
        unit = row.unit if isinstance(row.unit, str) else ""
        reason = row.unavailable_reason if isinstance(row.unavailable_reason, str) else None
        out[(row.board, row.job_key, name)] = (value, unit, reason)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_round_trips_stored_values(two_runs: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"r2.{fmt}"
    res = CliRunner().invoke(main, ["export", "--format", fmt, "--run", "r2", "--db", str(two_runs), "-o",
                                    str(out)])
    assert res.exit_code == 0, res.output
    if fmt == "csv":
        # pandas >= 3 parses floats exactly by default; pandas 2 needs the round_trip parser
        exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
        df = pd.read_csv(out, keep_default_na=False, na_values=[""], **exact)
    elif fmt == "parquet":
        df = pd.read_parquet(out)
    else:
        df = pd.DataFrame(json.loads(out.read_text()))
    assert set(df["run_id"]) == {"r2"}
    store = Store(two_runs)
    expected = _expected(store, "r2")
    got = _got(df)
    assert len(df) == len(expected) == len(got)
    assert got == expected  # exact float equality, units and unavailable reasons included
    # identity columns survive too: params as canonical JSON, board names with odd characters
    row = df[(df["board"] == "orin <nano>") & (df["metric"] == "latency.p50")].iloc[0]
    assert json.loads(row["params"]) == {"batch": 1} and row["status"] == "ok"
    failed = df[df["status"] == "unsupported"]
    assert len(failed) == 1 and _got(failed) == {("pi5", "yolo[batch=1]/int8/none", ""): (None, "", None)}
    wide = df.pivot_table(index=["board", "job_key"], columns="metric", values="value")
    assert wide.loc[("pi5", "gemm[batch=1]/fp32/none"), "latency.p50"] == \
        store.load_run("r2").jobs[[j.job_key
                                   for j in store.load_run("r2").jobs].index("gemm[batch=1]/fp32/none")
                                   ].value("latency.p50")


def test_export_all_runs_and_bad_input(two_runs: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    res = cli.invoke(main, ["export", "--db", str(two_runs), "-o", str(tmp_path / "all.csv")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "all.csv")
    assert list(dict.fromkeys(df["run_id"])) == ["r1", "r2"]  # oldest run first
    missing = cli.invoke(main, ["export", "--db", str(two_runs), "--run", "nope", "-o",
                                str(tmp_path / "x.csv")])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr
    assert not (tmp_path / "x.csv").exists()
    assert cli.invoke(main, ["export", "--format", "xlsx", "--db", str(two_runs)]).exit_code == 2


BENCH_FILE = '''
import time
import pytest

def spin(n):
    return sum(range(n))

def test_spin_small(benchmark):
    benchmark(spin, 200)

@pytest.mark.parametrize("n", [1000, 3000])
def test_spin(benchmark, n):
    benchmark.extra_info["n"] = n
    benchmark(spin, n)
'''


def _pytest_benchmark_files(tmp_path: Path) -> tuple[Path, Path]:
    """One real pytest-benchmark session writing both kinds of file: ``--benchmark-json`` (always carries the
    raw per-round times) and ``--benchmark-save`` without ``--benchmark-save-data`` (summary stats only)."""
    (tmp_path / "test_tiny_bench.py").write_text(BENCH_FILE)
    out = tmp_path / "with_data.json"
    storage = tmp_path / "storage"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny_bench.py",
           f"--benchmark-json={out}", "--benchmark-save=nodata", f"--benchmark-storage=file://{storage}",
           "--benchmark-min-rounds=15", "--benchmark-max-time=0.02", "--benchmark-disable-gc",
           "-o", "addopts=", "--rootdir", str(tmp_path)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    (saved,) = storage.rglob("*nodata.json")
    return out, saved


@pytest.mark.slow
def test_import_pytest_benchmark_joins_history(tmp_path: Path) -> None:
    with_data, stats_only = _pytest_benchmark_files(tmp_path)
    db = str(tmp_path / "pb.db")
    cli = CliRunner()
    res = cli.invoke(main, ["import", "pytest-benchmark", str(with_data), "--board", "ci-x86", "--db", db,
                            "--json"])
    assert res.exit_code == 0, res.output
    outcome = json.loads(res.stdout)
    assert outcome["jobs_added"] == 3
    again = cli.invoke(main, ["import", "pytest-benchmark", str(with_data), "--board", "ci-x86", "--db", db,
                              "--json"])
    assert json.loads(again.stdout) == {"run_id": outcome["run_id"], "jobs_added": 0}  # idempotent

    doc = json.loads(with_data.read_text())
    store = Store(db)
    run = store.load_run(outcome["run_id"])
    assert run.info.status == "complete" and len(run.jobs) == 3
    by_name = {j.job_key: j for j in run.jobs}
    for b in doc["benchmarks"]:
        j = by_name[b["fullname"]]
        assert j.workload == b["name"] and j.backend == "pytest-benchmark" and j.board == "ci-x86"
        assert j.params == (b["params"] or {})
        assert j.raw["latency_rounds"][0]["values_s"] == b["stats"]["data"]
        assert j.value("latency.n") == len(b["stats"]["data"]) == b["stats"]["rounds"]
        assert math.isclose(j.value("latency.p50") or 0, b["stats"]["median"], rel_tol=1e-12)
        assert math.isclose(j.value("latency.min") or 0, b["stats"]["min"], rel_tol=1e-12)
        assert j.warnings == ()
    assert run.boards[0].snapshot["hostname"] == doc["machine_info"]["node"]

    res = cli.invoke(main, ["import", "pytest-benchmark", str(stats_only), "--board", "ci-x86", "--db", db])
    assert res.exit_code == 0, res.output
    runs = store.list_runs()
    assert len(runs) == 2
    (second_id,) = {r.run_id for r in runs} - {outcome["run_id"]}
    second = store.load_run(second_id)
    job = next(j for j in second.jobs if j.workload == "test_spin_small")
    sdoc = next(b for b in json.loads(stats_only.read_text())["benchmarks"] if b["name"] == "test_spin_small")
    assert job.raw == {} and [w.code for w in job.warnings] == ["stats-only"]
    assert job.value("latency.p50") == sdoc["stats"]["median"]
    assert job.value("latency.mean") == sdoc["stats"]["mean"]
    assert job.value("throughput.items") == sdoc["stats"]["ops"]

    hist = cli.invoke(main, ["history", "--db", db, "--board", "ci-x86", "--workload", "test_spin_small",
                             "--json"])
    assert hist.exit_code == 0, hist.output
    (series,) = [s for s in json.loads(hist.stdout)["series"] if s["metric"] == "latency.p50"]
    assert sorted(p["run_id"] for p in series["points"]) == sorted([outcome["run_id"], second_id])


def test_import_rejects_other_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": []}')
    res = CliRunner().invoke(main, ["import", "pytest-benchmark", str(bad), "--board", "b", "--db",
                                    str(tmp_path / "x.db")])
    assert res.exit_code == 2 and "not a pytest-benchmark JSON" in res.stderr
