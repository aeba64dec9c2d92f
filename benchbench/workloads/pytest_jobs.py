"""Suite entries ``workload: pytest-benchmark`` → one job per benchmark test, run on the board by the agent's
``pytest-benchmark`` backend.

Entry params: ``file: PATH`` (a self-contained pytest-benchmark test file, relative to the suite file; it
is shipped as the job's artifact, conftest files are not) and optional ``select: NAME`` or a list of names
(test names after ``::``, e.g. ``test_sorted[10]``; default: every test in the file that requests the
``benchmark`` fixture). Names are collected on the controller with ``pytest --collect-only``. Each job's
workload is the benchmark's name, like ``import pytest-benchmark`` stores it, so both join one history.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec
from ..config.suite import JobEntry
from ..errors import ConfigError
from .artifacts import sha256_file
from .plan import ExpandContext, PlannedJob, Work, job_key
from .staging import resolve_path, stage

WORKLOAD = "pytest-benchmark"
BACKEND = "pytest-benchmark"
PRECISION = "n/a"


def collect(path: Path, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """[{"name": test name after ``::``, "benchmark": requests the fixture}] in file order; ConfigError when
    pytest cannot collect the file."""
    with tempfile.TemporaryDirectory(prefix="bb-collect-") as tmp:
        out = Path(tmp) / "tests.json"
        argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                "-c", "/dev/null", "--rootdir", str(path.parent),
                "-p", "benchbench.workloads.pytest_collect", f"--bb-collect-out={out}", str(path)]
        try:
            proc = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ConfigError(f"pytest --collect-only {path.name} did not finish within {timeout_s:.0f} s",
                              key="file") from None
        if proc.returncode != 0 or not out.is_file():
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("E ")] or lines[-1:] or ["no output"]
            raise ConfigError(f"pytest cannot collect {path}: {errors[0].lstrip('E ').strip()[:300]}",
                              key="file")
        tests: list[dict[str, Any]] = json.loads(out.read_text())
    return [{"name": t["nodeid"].split("::", 1)[1], "benchmark": bool(t["benchmark"])} for t in tests
            if "::" in t["nodeid"]]


NAMES = (WORKLOAD,)


def handles(entry: JobEntry) -> bool:
    return entry.workload == WORKLOAD


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """One job per benchmark test of the file (collected on the controller)."""
    where = f"jobs[{i}].params"
    suite_file = ctx.suite_file
    unknown = sorted(set(entry.params) - {"file", "select"})
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]!r} for pytest-benchmark (known: file, select)",
                          file=suite_file, key=f"{where}.{unknown[0]}")
    if entry.precisions not in (None, [PRECISION]) or entry.pruning != ["none"]:
        raise ConfigError("precisions and pruning do not apply to pytest-benchmark tests", file=suite_file,
                          key=f"jobs[{i}]")
    if not isinstance(entry.params.get("file"), str):
        raise ConfigError("pytest-benchmark needs params.file: PATH to a test file", file=suite_file,
                          key=f"{where}.file")
    path = resolve_path(entry.params["file"], suite_file)
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(f"pytest-benchmark test file not found (or not .py): {path}", file=suite_file,
                          key=f"{where}.file")
    try:
        tests = collect(path)
    except ConfigError as exc:
        raise ConfigError(str(exc), file=suite_file, key=f"{where}.file") from None
    select = entry.params.get("select")
    names = [select] if isinstance(select, str) else list(select or [])
    by_name = {t["name"]: t for t in tests}
    for k, name in enumerate(names):
        if name not in by_name:
            raise ConfigError(f"{path.name} has no test {name!r} (collected: {', '.join(by_name) or 'none'})",
                              file=suite_file,
                              key=f"{where}.select" + (f"[{k}]" if not isinstance(select, str) else ""))
    chosen = names or [t["name"] for t in tests if t["benchmark"]]
    if not chosen:
        raise ConfigError(f"{path.name} has no test that uses the benchmark fixture", file=suite_file,
                          key=f"{where}.file")
    digest = sha256_file(path)
    # not staging.safe_name: the board imports the file as a module, so its name must not keep a "." or "-"
    module = "".join(c if c.isalnum() else "_" for c in path.stem)
    staged = stage(path, f"pb_{module}_{digest[:12]}.py", ctx.cache_dir / "deploy")
    timing = ctx.timing(entry)
    out: list[PlannedJob] = []
    for name in chosen:
        params = {"file": entry.params["file"], "select": name, "file_sha256": digest}
        key = job_key(name, BACKEND, PRECISION, "none", params)
        if not ctx.claim(key):
            continue
        spec = JobSpec(job_key=key, workload=name, backend=BACKEND, precision=PRECISION, params=params,
                       pruning="none", artifact=staged.name, timing=timing, timeout_s=entry.timeout_s,
                       seed=entry.seed)
        out.append(PlannedJob(spec=spec, work=Work(item_unit="call"), artifact_path=staged))
    return out
