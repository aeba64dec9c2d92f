"""Lab queue engine benchmarks (issue 15; pytest-benchmark, marked perf; run on demand):

    python -m pytest tests/perf/test_lab_queue_throughput.py -m perf \\
        --benchmark-json=perf-results/lab-queue.json

On a private PostgreSQL cluster, eight procrastinate worker processes with benchbench's engine settings and a
no-op task (tests/perf/lab_queue_worker.py), so only the engine is measured:
* throughput: 10 000 tiny jobs deferred in one batch, drained by the 8 workers (jobs/s from the engine's own
  event timestamps, first start → last success); controller CPU per job = the workers' CPU / jobs;
* added latency: with the 8 workers idle (LISTEN/NOTIFY), jobs deferred one by one — deferred → started
  and started → succeeded, from the engine's events (server clock). Numbers go to ``extra_info``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from benchbench.lab.engine import conninfo, ensure_schema, sync_app

pytestmark = pytest.mark.perf
pytest.importorskip("procrastinate")
HELPER = str(Path(__file__).with_name("lab_queue_worker.py"))
WORKERS = 8


def _workers(url: str, mode: str) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([sys.executable, HELPER, url, mode, f"perf-{i}"], stdout=subprocess.PIPE,
                             text=True)
            for i in range(WORKERS)]


def _reports(procs: list[subprocess.Popen[str]], timeout: float) -> list[dict[str, Any]]:
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=timeout)
        assert p.returncode == 0
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _event_spans(url: str, ids: list[int]) -> list[tuple[float, float, float]]:
    """(deferred, started, succeeded) per job, unix seconds on the server's clock."""
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT job_id, type, extract(epoch FROM at) FROM procrastinate_events WHERE job_id = ANY(%s) "
            "AND type IN ('deferred', 'started', 'succeeded')", (ids,)).fetchall()
    ev: dict[int, dict[str, float]] = {}
    for job_id, kind, at in rows:
        ev.setdefault(job_id, {})[kind] = float(at)
    return [(e["deferred"], e["started"], e["succeeded"]) for e in ev.values() if len(e) == 3]


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def test_queue_throughput_10k_tiny_jobs(benchmark: Any, postgres_url: str) -> None:
    ensure_schema(postgres_url)
    app = sync_app(postgres_url)
    n = 10_000
    with app.open():
        t0 = time.perf_counter()
        ids = app.configure_task("bbperf.noop", queue="bbperf").batch_defer(*[{"i": i} for i in range(n)])
        defer_s = time.perf_counter() - t0
    reports: list[dict[str, Any]] = []

    def drain() -> None:
        reports.extend(_reports(_workers(postgres_url, "drain"), timeout=900))

    benchmark.pedantic(drain, rounds=1, iterations=1)
    spans = _event_spans(postgres_url, list(ids))
    assert len(spans) == n and sum(r["jobs"] for r in reports) == n  # each job ran once
    wall = max(s[2] for s in spans) - min(s[1] for s in spans)
    cpu = sum(r["cpu_s"] for r in reports)
    benchmark.extra_info.update({
        "jobs": n, "workers": WORKERS, "defer_batch_s": round(defer_s, 3), "drain_wall_s": round(wall, 2),
        "jobs_per_s": round(n / wall, 1), "worker_cpu_s_total": round(cpu, 2),
        "controller_cpu_ms_per_job": round(1000 * cpu / n, 3),
        "jobs_per_worker": sorted(r["jobs"] for r in reports)})


def test_added_latency_with_8_idle_workers(benchmark: Any, postgres_url: str) -> None:
    ensure_schema(postgres_url)
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]
        procs = _workers(postgres_url, "serve")
        deadline = time.monotonic() + 120
        while conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0] < before + WORKERS:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    time.sleep(1.0)  # registered; now listening
    app = sync_app(postgres_url)
    ids: list[int] = []
    with app.open():
        deferrer = app.configure_task("bbperf.noop", queue="bbperf")

        def one() -> None:
            ids.append(deferrer.defer(i=len(ids)))
            time.sleep(0.05)  # one at a time: the workers are idle when each job arrives

        benchmark.pedantic(one, rounds=200, iterations=1)
    time.sleep(2.0)
    for p in procs:
        p.terminate()
    reports = _reports(procs, timeout=60)
    spans = _event_spans(postgres_url, ids)
    assert len(spans) == len(ids)
    dispatch = [1000 * (s[1] - s[0]) for s in spans]
    finish = [1000 * (s[2] - s[1]) for s in spans]
    benchmark.extra_info.update({
        "jobs": len(ids), "workers": WORKERS,
        "defer_to_start_ms": {"p50": round(statistics.median(dispatch), 2),
                              "p95": round(_pct(dispatch, 0.95), 2)},
        "start_to_succeeded_ms": {"p50": round(statistics.median(finish), 2),
                                  "p95": round(_pct(finish, 0.95), 2)},
        "idle_workers_cpu_s": round(sum(r["cpu_s"] for r in reports), 2)})
