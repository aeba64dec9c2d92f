"""pytest-benchmark backend: runs ONE benchmark of a deployed pytest-benchmark test file on the board.

The host expands a suite entry into one job per benchmark test (``params.select`` = the node id after
``::``, e.g. ``test_sorted[10]``); the artifact is the test file. The board's own Python runs
``python -m pytest FILE::SELECT --benchmark-json=OUT -q -p no:cacheprovider`` (no ini file is read, so a
project's addopts cannot change it) and pytest-benchmark's raw per-round times become the job's timing
values. The timed window is pytest-benchmark's own timer around the test's ``benchmark()`` target. When the
board has a power sensor, the shipped plugin ``bb_pytest_energy`` then loops that same target for the
steady-state energy window and reports the window and its call count (``extra["energy_phase"]``), so energy
per call covers the target only. Without pytest and pytest-benchmark importable the job is ``unsupported``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

from ..protocol import JobSpec
from ..timing import Round, TimerInfo, TimingResult, characterise_timer
from . import Prepared, Unsupported, WorkloadFailed

TIMED_WINDOW = "pytest-benchmark's own timer around the test's benchmark() target"
#: the energy-loop plugin next to this module (importable from the zipapp too: zipimport takes subfolders)
PLUGIN = "bb_pytest_energy"


def _argv(job: JobSpec, path: str, select: str, out_json: str) -> List[str]:
    plan = job.timing
    argv = [sys.executable, "-m", "pytest", f"{path}::{select}", f"--benchmark-json={out_json}",
            "-q", "-p", "no:cacheprovider", "-p", PLUGIN, "-c", os.devnull,
            "--rootdir", os.path.dirname(path),
            f"--benchmark-min-rounds={int(max(1, plan.rounds * plan.values_per_round))}",
            f"--benchmark-max-time={plan.max_timed_s}", f"--benchmark-min-time={plan.min_value_s}"]
    if plan.disable_gc:
        argv.append("--benchmark-disable-gc")
    return argv


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def _env(energy_out: str, energy_window_s: float) -> Dict[str, str]:
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    env["BB_ENERGY_WINDOW_S"] = repr(energy_window_s)
    env["BB_ENERGY_OUT"] = energy_out
    return env


def _run(job: JobSpec, path: str, select: str,
         energy_window_s: float = 0.0) -> Tuple[TimingResult, Dict[str, Any], Dict[str, Any]]:
    timeout_s = max(5.0, 0.9 * job.timeout_s)
    with tempfile.TemporaryDirectory(prefix="bb-pytest-") as tmp:
        out_json = os.path.join(tmp, "benchmark.json")
        energy_out = os.path.join(tmp, "energy.json")
        argv = _argv(job, path, select, out_json)
        t_start = time.monotonic_ns()
        try:
            proc = subprocess.run(argv, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=timeout_s, check=False,
                                  env=_env(energy_out, energy_window_s))
        except subprocess.TimeoutExpired:
            raise WorkloadFailed(f"pytest did not finish within {timeout_s:.0f} s") from None
        t_end = time.monotonic_ns()
        if proc.returncode != 0:
            raise WorkloadFailed(f"pytest exited with {proc.returncode}: {_last_line(proc.stdout)}")
        try:
            with open(out_json) as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise WorkloadFailed(f"pytest wrote no readable --benchmark-json ({exc})") from None
        phase: Dict[str, Any] = {}
        if energy_window_s > 0 and os.path.exists(energy_out):
            with open(energy_out) as fh:
                phase = json.load(fh)
    benches = doc.get("benchmarks") or []
    if len(benches) != 1:
        raise WorkloadFailed(f"expected one benchmark from {select}, pytest-benchmark reported "
                             f"{len(benches)} (does the test use the benchmark fixture?)")
    bench = benches[0]
    stats = dict(bench.get("stats") or {})
    data = [float(v) for v in stats.pop("data", None) or []]
    if not data:
        raise WorkloadFailed(f"pytest-benchmark reported no raw timings for {select}")
    options = bench.get("options") or {}
    timer = characterise_timer()  # pytest-benchmark's default timer is time.perf_counter: the same clock
    timer = TimerInfo(resolution_ns=timer.resolution_ns, call_cost_ns=timer.call_cost_ns,
                      clock="pytest-benchmark timer {}".format(options.get("timer", "?")))
    # the round spans the pytest process (its sensor summary); energy per call comes from the energy phase
    timing = TimingResult(timer=timer, warmup_iters=0, warmup_s=0.0, number=int(stats.get("iterations") or 1),
                          calibration=[], rounds=[Round(t_start_ns=t_start, t_end_ns=t_end, values_s=data)])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux
    memory = {"method": "ru_maxrss of the pytest child process (RUSAGE_CHILDREN)",
              "peak_rss_bytes": peak or None}
    extra = {"benchmark": {"name": bench.get("name"), "fullname": bench.get("fullname"),
                           "params": bench.get("params"), "group": bench.get("group"),
                           "extra_info": bench.get("extra_info") or {}, "options": options, "stats": stats},
             "pytest_benchmark": (doc.get("version") or "?"), "argv": argv[1:],
             "pytest_wall_s": (t_end - t_start) / 1e9}
    if phase:
        extra["energy_phase"] = phase
    return timing, memory, extra


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    missing = [m for m in ("pytest", "pytest_benchmark") if importlib.util.find_spec(m) is None]
    if missing:
        raise Unsupported("{} not installed for this board's Python ({}): pip install pytest-benchmark"
                          .format(" and ".join(missing), sys.executable))
    if not job.artifact or not job.artifact.endswith(".py"):
        raise WorkloadFailed("the pytest-benchmark backend needs a .py test file artifact, got "
                             f"{job.artifact!r}")
    select = str(job.params.get("select") or "")
    if not select:
        raise WorkloadFailed("the pytest-benchmark backend needs params.select (the test's name)")
    path = os.path.abspath(os.path.join(artifacts_dir, job.artifact))
    if not os.path.isfile(path):
        raise WorkloadFailed(f"test file {job.artifact} is missing from the artifacts directory")
    def run_self(energy_window_s: float = 0.0) -> Tuple[TimingResult, Dict[str, Any], Dict[str, Any]]:
        return _run(job, path, select, energy_window_s)
    return Prepared(fn=lambda: None, implementation=f"pytest-benchmark {job.artifact}::{select}",
                    timed_window=TIMED_WINDOW, run_self=run_self)
