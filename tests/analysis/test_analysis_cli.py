"""`compare` and `history` against a real SQLite file written through the store API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from benchbench.cli.compare import compare
from benchbench.cli.history import history
from benchbench.results.records import JobRecord, Metric
from benchbench.results.store import Store

SNAP = {"kernel": "6.6.51", "libraries": {"onnxruntime": "1.20.1"}, "hostname": "pi5"}


def add_run(store: Store, run_id: str, level_s: float, seed: int, *, kernel: str = "6.6.51",
            throttled: bool = False, energy_j: float = 1e-3) -> None:
    rng = np.random.default_rng(seed)
    vals = (level_s * np.exp(0.03 * rng.standard_normal(60))).tolist()
    store.create_run(run_id, "nightly", None, None, "0.1.0", {}, {})
    store.record_board(run_id, "pi5", {**SNAP, "kernel": kernel}, status="complete")
    store.add_job(JobRecord(
        run_id=run_id, board="pi5", job_key="mm", workload="matmul", backend="numpy", precision="fp32",
        pruning="none", params={"n": 256}, status="ok",
        details={"throttle": {"throttled": throttled, "evidence": []}},
        metrics=(Metric("latency.p50", float(np.median(vals)), "s"),
                 Metric("energy.per_inference", energy_j, "J")),
        raw={"latency_rounds": [{"values_s": vals[:30]}, {"values_s": vals[30:]}]}))
    store.finish_run(run_id, "complete")


def three_runs(tmp_path: Path, slow: str = "slow") -> str:
    """A results file (its path) with runs ``a`` and ``same`` at 10 ms, and ``slow`` 10 % slower on a newer
    kernel."""
    db = str(tmp_path / "r.db")
    store = Store(db)
    add_run(store, "a", 10e-3, 1)
    add_run(store, "same", 10e-3, 2)
    add_run(store, slow, 11e-3, 3, kernel="6.6.60")
    return db


def test_compare_exit_codes(tmp_path: Path) -> None:
    db = three_runs(tmp_path)
    cli = CliRunner()
    ok = cli.invoke(compare, ["a", "same", "--db", db, "--fail-on", "latency.p50:+5%"])
    assert ok.exit_code == 0, ok.output
    assert "ok latency.p50:+5%" in ok.output
    bad = cli.invoke(compare, ["a", "slow", "--db", db, "--fail-on", "latency.p50:+5%", "--json"])
    assert bad.exit_code == 3
    doc = json.loads(bad.stdout)
    assert doc["tripped"] is True
    assert any("kernel: 6.6.51 → 6.6.60" in w for w in doc["warnings"])
    row = next(r for r in doc["rows"] if r["metric"] == "latency.p50")
    assert row["test"] == "mannwhitneyu" and row["changed"] and abs(row["rel_change"] - 0.1) < 0.03
    assert cli.invoke(compare, ["a", "slow", "--db", db]).exit_code == 0  # no gate, no failure
    wrong = cli.invoke(compare, ["a", "slow", "--db", db, "--fail-on", "latency.p50:5"])
    assert wrong.exit_code == 2 and "--fail-on" in wrong.stderr
    missing = cli.invoke(compare, ["a", "nope", "--db", db])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr


def test_history_flags_the_nightly_step(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    store = Store(db)
    rng = np.random.default_rng(42)
    for i in range(30):
        level = 10e-3 * (1 + 0.01 * rng.standard_normal()) * (1.05 if i >= 20 else 1.0)
        add_run(store, f"n{i:02d}", level, 100 + i)
    res = CliRunner().invoke(history, ["--db", db, "--board", "pi5", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (reg,) = doc["regressions"]
    assert reg["metric"] == "latency.p50" and reg["run_id"] in {"n19", "n20", "n21"}
    energy = next(s for s in doc["series"] if s["metric"] == "energy_per_inference")
    assert energy["steps"] == [] and len(energy["points"]) == 30
    text = CliRunner().invoke(history, ["--db", db, "--workload", "matmul"])
    assert text.exit_code == 0 and "regressions (largest first)" in text.output
    none = CliRunner().invoke(history, ["--db", db, "--board", "other"])
    assert none.exit_code == 0 and "no stored series match" in none.output


def test_history_ignores_throttled_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    store = Store(db)
    for i in range(24):
        add_run(store, f"n{i:02d}", 10e-3 * (1.15 if i >= 16 else 1.0), 200 + i, throttled=i >= 16)
    doc = json.loads(CliRunner().invoke(history, ["--db", db, "--json"]).stdout)
    assert doc["regressions"] == []
    lat = next(s for s in doc["series"] if s["metric"] == "latency.p50")
    assert sum(p["excluded"] for p in lat["points"]) == 8
