"""Report and site at lab scale: a store of 100 000 job rows (50 nightly runs × 2 000 jobs: 10 boards ×
20 models × 5 precisions × 2 prunings; 18 metrics and 60 raw latencies per job), built with executemany
through the schema tables. Goal (issue #6): report + site in ≤ 10 s on 2 cores, report ≤ 5 MB.

Measured separately, because they scale differently:

* ``report``: load + render the biggest run (2 000 jobs) — what ``benchbench report`` does after a run;
* ``site_nightly``: publish after one more nightly run into an existing site (the incremental case: one
  new report page, every history page, index, regressions) — what a nightly lab does;
* ``site_cold``: the first publish of the whole store with ``workers=2`` (issue #16 goal: ≤ 20 s, ≤ 100 MB
  on 2 cores; runs this big are published as a summary plus a page per board, see ``report.siterun``);
* ``history``: the history read + step detection over the 6 000 series alone.

Run: ``pytest tests/perf/test_report_scale.py -m perf`` (the store is cached in tests/perf/out/, ~300 MB;
JSON: BENCHBENCH_PERF_OUT, default tests/perf/out/report_scale.json).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from lab.storegen import bulk_store, matrix

from benchbench.analysis.history import DEFAULT_METRICS, build_history
from benchbench.report.render import render_run
from benchbench.report.site import publish
from benchbench.report.sitedata import history_entries
from benchbench.results.store import Store

pytestmark = pytest.mark.perf

OUT = Path(os.environ.get("BENCHBENCH_PERF_OUT", Path(__file__).parent / "out" / "report_scale.json"))
N_RUNS = 50
SPECS = matrix([f"board{i}" for i in range(10)], [f"model{i:02d}" for i in range(20)],
               ["fp32", "fp16", "bf16", "int8", "int4"], ["none", "50pct"])
RESULTS: dict[str, Any] = {}
GENERATOR = "v1"  # bump when storegen's rows change, to rebuild the cached store


def _save() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"runs": N_RUNS, "jobs_per_run": len(SPECS), "results": RESULTS}, indent=2))


@pytest.fixture(scope="module")
def big_store() -> Path:
    db = OUT.parent / f"report_scale_{GENERATOR}.db"
    if not db.exists():
        tmp = db.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        for _ in bulk_store(Store(tmp), N_RUNS, SPECS, seed=0):
            pass
        RESULTS["store_build_s"] = time.perf_counter() - t0
        tmp.replace(db)
    with Store(db).engine.connect() as conn:
        from sqlalchemy import text
        RESULTS["job_rows"] = conn.execute(text("select count(*) from jobs")).scalar_one()
        RESULTS["metric_rows"] = conn.execute(text("select count(*) from metrics")).scalar_one()
    RESULTS["db_mb"] = db.stat().st_size / 1e6
    return db


def test_report_of_biggest_run(benchmark: Any, big_store: Path) -> None:
    store = Store(big_store)
    biggest = max(store.list_runs(), key=lambda r: r.n_jobs)
    html = benchmark.pedantic(lambda: render_run(store.load_run(biggest.run_id)), rounds=3, iterations=1)
    RESULTS["report"] = {"jobs": biggest.n_jobs, "median_s": benchmark.stats.stats.median,
                         "size_mb": len(html.encode()) / 1e6}
    benchmark.extra_info.update(RESULTS["report"])
    _save()


def test_history_over_the_store(benchmark: Any, big_store: Path) -> None:
    store = Store(big_store)

    def run() -> int:
        t0 = time.perf_counter()
        entries = history_entries(store, DEFAULT_METRICS)
        RESULTS["history_read_s"] = time.perf_counter() - t0
        return len(build_history(entries, DEFAULT_METRICS))

    n = benchmark.pedantic(run, rounds=1, iterations=1)
    RESULTS["history"] = {"series": n, "total_s": benchmark.stats.stats.median}
    _save()


def test_site_cold_then_nightly(benchmark: Any, big_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    shutil.copy(big_store, db)
    store = Store(db)
    www = tmp_path / "www"
    la0, c0, t0 = os.getloadavg()[0], os.times(), time.perf_counter()
    cold = publish(store, www, workers=2)
    c1 = os.times()
    by_dir: dict[str, int] = {}
    for p in www.rglob("*"):
        if p.is_file():
            top = p.relative_to(www).parts[0]
            by_dir[top if "." not in top else "(top)"] = by_dir.get(top if "." not in top else "(top)",
                                                                    0) + p.stat().st_size
    RESULTS["site_cold"] = {"s": time.perf_counter() - t0, "pages": len(cold.pages),
                            "mb": sum(by_dir.values()) / 1e6,
                            "mb_by_folder": {k: v / 1e6 for k, v in by_dir.items()},
                            "cpu_s": c1.user + c1.system + c1.children_user + c1.children_system
                            - (c0.user + c0.system + c0.children_user + c0.children_system),
                            "cpus": len(os.sched_getaffinity(0)), "loadavg_1m_before": la0,
                            "loadavg_1m_after": os.getloadavg()[0]}
    _save()
    for _ in bulk_store(store, 1, SPECS, seed=99, t0=1.7e9 + 86400 * N_RUNS, first=N_RUNS):
        pass  # one more nightly run
    res = benchmark.pedantic(lambda: publish(store, www, workers=2), rounds=1, iterations=1)
    RESULTS["site_nightly"] = {"s": benchmark.stats.stats.median, "written": len(res.written),
                               "unchanged": len(res.unchanged), "loadavg_1m": os.getloadavg()[0]}
    benchmark.extra_info.update(RESULTS["site_nightly"])
    _save()


def test_report_of_one_2000_job_run(benchmark: Any, tmp_path: Path) -> None:
    """Issue #17's budget without the 300 MB store: one 2 000-job run (the same specs) in a fresh store,
    rendered with the Findings block, the bar figures and the grouped summary. Goal: ≤ 5 MB, ≤ 2 s."""
    store = Store(tmp_path / "one.db")
    (run_id,) = list(bulk_store(store, 1, SPECS, seed=0))
    run = store.load_run(run_id)
    html = benchmark.pedantic(lambda: render_run(run), rounds=3, iterations=1)
    t0 = time.perf_counter()
    store.load_run(run_id)
    RESULTS["report_2000"] = {"jobs": len(run.jobs), "render_median_s": benchmark.stats.stats.median,
                              "load_s": time.perf_counter() - t0, "size_mb": len(html.encode()) / 1e6,
                              "cpus": len(os.sched_getaffinity(0)), "loadavg_1m": os.getloadavg()[0]}
    benchmark.extra_info.update(RESULTS["report_2000"])
    _save()
