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
import logging
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis.stats import latency_stats
from ..config.loader import parse_json
from ..errors import ConfigError
from ..files import read_text
from ..results.ids import check_run_id
from ..results.records import JobRecord, Metric, Warning_
from ..results.store import Store

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
    """pytest-benchmark's machine_info in our board snapshot's field names (unknowns stay as they are)."""
    found = machine.get("cpu")
    cpu: dict[str, Any] = found if isinstance(found, dict) else {}
    return {"hostname": machine.get("node"), "arch": machine.get("machine"), "os": machine.get("system"),
            "kernel": machine.get("release"), "cpu_model": cpu.get("brand_raw"),
            "cpu_count": cpu.get("count"),
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
                out.append(Metric(f"latency.{key[:-2]}", val, "s", source=SOURCE,
                                  detail=detail + " (raw data)"))
        out.append(Metric("latency.n", float(st.n), "values", source=SOURCE,
                          detail=f"{stats.get('iterations', 1)} calls per value"))
        out.append(Metric("throughput.items", 1.0 / st.p50_s, "call/s", source=SOURCE,
                          detail="at median latency"))
        return tuple(out)
    for key, name in _STATS_METRICS:
        if isinstance(stats.get(key), (int, float)):
            out.append(Metric(name, float(stats[key]), "s", source=SOURCE,
                              detail=detail + " (summary stats)"))
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
        warnings = (Warning_("stats-only", "pytest-benchmark JSON without raw timings: only its summary "
                             "stats are stored, so comparisons cannot test significance",
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


#: pytest-benchmark JSON with raw data for thousands of benchmarks stays well below this
MAX_JSON_BYTES = 256 << 20


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_benchmark(b: Any, i: int, file: str) -> None:
    """Everything ``_job`` reads, checked before anything is stored (a bad file leaves no run behind)."""
    where = f"benchmarks[{i}]"
    if not isinstance(b, dict):
        raise ConfigError("a benchmark must be a JSON object", file=file, key=where)
    if not isinstance(b.get("name"), str) or not b["name"].strip():
        raise ConfigError("benchmark has no name", file=file, key=f"{where}.name")
    if b.get("fullname") is not None and not isinstance(b["fullname"], str):
        raise ConfigError("fullname must be a string", file=file, key=f"{where}.fullname")
    for key in ("params", "extra_info", "options"):
        if b.get(key) is not None and not isinstance(b[key], dict):
            raise ConfigError(f"must be an object, got {type(b[key]).__name__}", file=file,
                              key=f"{where}.{key}")
    stats = b.get("stats")
    if not isinstance(stats, dict):
        raise ConfigError("benchmark has no stats object", file=file, key=f"{where}.stats")
    for key, _ in _STATS_METRICS:
        v = stats.get(key)
        if v is not None and (not _number(v) or v < 0):
            raise ConfigError(f"must be a non-negative number of seconds, got {v!r}", file=file,
                              key=f"{where}.stats.{key}")
    data = stats.get("data")
    if data is None:
        return
    if not isinstance(data, list):
        raise ConfigError(f"must be a list of seconds, got {type(data).__name__}", file=file,
                          key=f"{where}.stats.data")
    for j, v in enumerate(data):
        if not _number(v) or not v > 0:
            raise ConfigError(f"a latency must be a positive number of seconds, got {v!r}", file=file,
                              key=f"{where}.stats.data[{j}]")


def load_pytest_benchmark(path: Path) -> tuple[dict[str, Any], str]:
    """Parse and check the whole file (strict JSON: UTF-8, no duplicate keys, finite numbers); returns the
    document and its content hash."""
    file = str(path)
    text = read_text(path, MAX_JSON_BYTES)
    doc = parse_json(text, file)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ConfigError("not a pytest-benchmark JSON file (no 'benchmarks' list)", file=file,
                          key="benchmarks", hint="write it with pytest --benchmark-json FILE")
    for key in ("machine_info", "commit_info"):
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise ConfigError(f"must be an object, got {type(doc[key]).__name__}", file=file, key=key)
    for i, b in enumerate(doc["benchmarks"]):
        _check_benchmark(b, i, file)
    return doc, hashlib.sha256(text.encode()).hexdigest()


def import_pytest_benchmark(store: Store, path: Path, board: str,
                            run_id: str | None = None) -> tuple[str, int]:
    """Store the file as a new run on ``board``; returns (run id, jobs stored). Importing the same file again
    (the default run id comes from its content) stores nothing; an explicit ``run_id`` that is already
    stored is refused, so an import can never rewrite a measured run."""
    if run_id is not None:
        check_run_id(run_id, "--run")
    if not board.strip() or len(board) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in board):
        raise ConfigError("board name must be 1-200 printable characters", key="--board")
    doc, digest = load_pytest_benchmark(path)
    known = {r.run_id for r in store.list_runs()}
    if run_id is not None and run_id in known:
        raise ConfigError(f"run {run_id!r} is already stored; an import always creates a new run",
                          key="--run",
                          hint="leave out --run (the id then comes from the file's content) or pick a new id")
    run_id = run_id or f"pytest-benchmark-{digest[:12]}"
    if run_id in known:
        log.info("%s was already imported as run %s", path, run_id)
        return run_id, 0
    store.create_run(run_id, suite_name=f"pytest-benchmark:{path.name}", suite_file=str(path),
                     suite_hash=digest, tool_version=__version__,
                     controller={"imported_from": "pytest-benchmark", "version": doc.get("version")},
                     plan={"import": str(path)}, started_at=_started_at(doc))
    status = "failed"
    try:
        store.record_board(run_id, board, _snapshot(doc.get("machine_info") or {}), status="complete")
        env = {"commit_info": doc.get("commit_info") or {}}
        added = sum(store.add_job(_job(run_id, board, b, env)) for b in doc["benchmarks"])
        status = "complete"
    finally:
        store.finish_run(run_id, status)
    log.info("imported %d of %d pytest-benchmark results into run %s", added, len(doc["benchmarks"]), run_id)
    return run_id, added
