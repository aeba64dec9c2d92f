"""pytest-benchmark JSON (``pytest --benchmark-json FILE``) → one stored run, so an existing pytest-benchmark
suite's results join ``history`` and ``compare``.

One job per benchmark: workload = the benchmark's ``name``, job key = its ``fullname``, backend
``pytest-benchmark``, params = its ``params`` (parametrized tests). When the file carries the raw per-round
times (``stats.data``: always in ``--benchmark-json`` files, in ``--benchmark-save`` files only with
``--benchmark-save-data``), they are stored as latency rounds and the latency metrics
are recomputed from them exactly like a native job; otherwise only pytest-benchmark's own summary stats are
stored and the job carries a ``stats-only`` note (compare/history then cannot run significance tests).
The run id is derived from the file's content, so importing the same file twice stores it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from . import __version__
from .analysis.stats import latency_stats
from .errors import ConfigError
from .results.records import JobRecord, Metric, Warning_
from .results.store import Store

log = logging.getLogger(__name__)

BACKEND = "pytest-benchmark"
SOURCE = "pytest-benchmark"

#: pytest-benchmark stats key → our metric name (all in seconds per call)
_STATS_METRICS = (("min", "latency.min"), ("median", "latency.p50"), ("max", "latency.max"),
                  ("mean", "latency.mean"), ("stddev", "latency.sd"), ("q1", "latency.p25"),
                  ("q3", "latency.p75"))


def _started_at(doc: dict[str, Any]) -> float | None:
    text = doc.get("datetime")
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _snapshot(machine: dict[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's machine_info in the field names of our board snapshot (unknowns stay as they are)."""
    cpu = machine.get("cpu") or {}
    return {"hostname": machine.get("node"), "arch": machine.get("machine"), "os": machine.get("system"),
            "kernel": machine.get("release"), "cpu_model": cpu.get("brand_raw"), "cpu_count": cpu.get("count"),
            "python": {"version": machine.get("python_version"),
                       "implementation": machine.get("python_implementation")},
            "source": "pytest-benchmark machine_info", "machine_info": machine}


def _metrics(stats: dict[str, Any], data: list[float] | None, fullname: str) -> tuple[Metric, ...]:
    detail = f"pytest-benchmark {fullname}"
    out: list[Metric] = []
    if data:
        st = latency_stats(data)
        for key, val in st.to_dict().items():
            if key != "n":
                out.append(Metric(f"latency.{key[:-2]}", val, "s", source=SOURCE, detail=detail + " (raw data)"))
        out.append(Metric("latency.n", float(st.n), "values", source=SOURCE,
                          detail=f"{stats.get('iterations', 1)} calls per value"))
        out.append(Metric("throughput.items", 1.0 / st.p50_s, "call/s", source=SOURCE, detail="at median latency"))
        return tuple(out)
    for key, name in _STATS_METRICS:
        if isinstance(stats.get(key), (int, float)):
            out.append(Metric(name, float(stats[key]), "s", source=SOURCE, detail=detail + " (summary stats)"))
    if isinstance(stats.get("rounds"), (int, float)):
        out.append(Metric("latency.n", float(stats["rounds"]), "values", source=SOURCE,
                          detail=f"{stats.get('iterations', 1)} calls per value"))
    if isinstance(stats.get("ops"), (int, float)):
        out.append(Metric("throughput.items", float(stats["ops"]), "call/s", source=SOURCE,
                          detail="pytest-benchmark ops (1/mean)"))
    return tuple(out)


def _job(run_id: str, board: str, bench: dict[str, Any], env: dict[str, Any]) -> JobRecord:
    name, fullname = str(bench.get("name")), str(bench.get("fullname") or bench.get("name"))
    stats = bench.get("stats") or {}
    data = stats.get("data")
    values = [float(v) for v in data] if isinstance(data, list) and data else None
    warnings: tuple[Warning_, ...] = ()
    if values is None:
        warnings = (Warning_("stats-only", "pytest-benchmark JSON without raw timings: only its summary stats "
                             "are stored, so comparisons cannot test significance",
                             "import the --benchmark-json file, or save with --benchmark-save-data",
                             severity="info"),)
    return JobRecord(
        run_id=run_id, board=board, job_key=fullname, workload=name, backend=BACKEND, precision="n/a",
        pruning="none", params=dict(bench.get("params") or {}), status="ok",
        implementation=f"pytest-benchmark test {fullname}", timed_window="the benchmarked call",
        env=env, details={"timing": {"number": stats.get("iterations"), "rounds": stats.get("rounds")},
                          "extra": {"group": bench.get("group"), "extra_info": bench.get("extra_info") or {},
                                    "options": bench.get("options") or {}}},
        metrics=_metrics(stats, values, fullname), warnings=warnings,
        raw={"latency_rounds": [{"values_s": values}]} if values else {})


def load_pytest_benchmark(path: Path) -> tuple[dict[str, Any], str]:
    """Parse and sanity-check the file; returns the document and its content hash."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", file=str(path)) from None
    try:
        doc = json.loads(blob)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON: {exc}", file=str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ConfigError(f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list)", file=str(path),
                          key="benchmarks", hint="write it with pytest --benchmark-json FILE")
    for i, b in enumerate(doc["benchmarks"]):
        if not isinstance(b, dict) or not b.get("name") or not isinstance(b.get("stats"), dict):
            raise ConfigError(f"benchmark #{i} has no name or stats", file=str(path), key=f"benchmarks[{i}]")
    return doc, hashlib.sha256(blob).hexdigest()


def import_pytest_benchmark(store: Store, path: Path, board: str, run_id: str | None = None) -> tuple[str, int]:
    """Store the file as a run on ``board``; returns (run id, jobs newly stored). Idempotent per file."""
    doc, digest = load_pytest_benchmark(path)
    run_id = run_id or f"pytest-benchmark-{digest[:12]}"
    known = {r.run_id for r in store.list_runs()}
    if run_id not in known:
        store.create_run(run_id, suite_name=f"pytest-benchmark:{path.name}", suite_file=str(path),
                         suite_hash=digest, tool_version=__version__,
                         controller={"imported_from": "pytest-benchmark", "version": doc.get("version")},
                         plan={"import": str(path)}, started_at=_started_at(doc))
    store.record_board(run_id, board, _snapshot(doc.get("machine_info") or {}), status="complete")
    env = {"commit_info": doc.get("commit_info") or {}}
    added = sum(store.add_job(_job(run_id, board, b, env)) for b in doc["benchmarks"])
    store.finish_run(run_id, "complete")
    log.info("imported %d of %d pytest-benchmark results into run %s", added, len(doc["benchmarks"]), run_id)
    return run_id, added
