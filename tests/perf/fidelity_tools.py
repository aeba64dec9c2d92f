"""The timers compared by ``test_timing_fidelity``: each takes a kernel spec (see ``fidelity_kernels``) and
returns the per-call median it reports, timed the way a user runs it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fidelity_kernels import make

from benchbench.agent.protocol import TimingPlan
from benchbench.agent.timing import measure

HERE = Path(__file__).parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _empty() -> None:
    return None


def _loop_ns(fn: Callable[[], Any], calls: int) -> int:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return time.perf_counter_ns() - t0


def reference(fn: Callable[[], Any], batch_s: float = 0.005, batches: int = 21) -> float:
    """The independent reference: back-to-back batches of ≥ ``batch_s`` (the two clock reads are < 0.01 %
    of one), median per call over many short batches (a preemption spoils one batch, not the median),
    minus the same loop around an empty callable."""
    rough = max(_loop_ns(fn, 20) / 20, 1.0)
    calls = max(1, int(batch_s * 1e9 / rough))
    per = statistics.median(_loop_ns(fn, calls) for _ in range(batches)) / calls
    empty = statistics.median(_loop_ns(_empty, calls) for _ in range(batches)) / calls
    return (per - empty) / 1e9


def benchbench_engine(spec: str) -> float:
    """The product's engine as the agent runs it: ``measure`` with the default TimingPlan (the loop's own
    cost is measured and subtracted there)."""
    return statistics.median(measure(make(spec), TimingPlan()).values_s)


def pytest_benchmark(spec: str) -> float:
    """pytest-benchmark's fixture with its default settings, driven through its Python class."""
    from pytest_benchmark.fixture import BenchmarkFixture
    from pytest_benchmark.utils import NameWrapper

    class _Log:
        def debug(self, *a: Any, **k: Any) -> None: ...
        def info(self, *a: Any, **k: Any) -> None: ...
        def warning(self, *a: Any, **k: Any) -> None: ...

    node = types.SimpleNamespace(name=spec, _nodeid=spec, callspec=types.SimpleNamespace(id=spec, params={}))
    fx = BenchmarkFixture(node, disable_gc=False, timer=NameWrapper(time.perf_counter),  # type: ignore[no-untyped-call]
                          min_rounds=5,
                          min_time=0.000005, max_time=1.0, warmup=False, warmup_iterations=100000,
                          calibration_precision=10, add_stats=lambda s: None, logger=_Log(),
                          warner=lambda *a, **k: None, disabled=False, cprofile=False, cprofile_loops=None,
                          cprofile_dump=None)
    fx(make(spec))
    assert fx.stats is not None
    return float(fx.stats.stats.median)


def _pyperf(spec: str, fast: bool) -> float:
    import pyperf

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": os.pathsep.join([str(HERE),
                                                                          os.environ.get("PYTHONPATH", "")])}
        cmd = [sys.executable, "-m", "pyperf", "timeit", *(["--fast"] if fast else []), "--quiet", "-o",
               str(out), "-s", f"import fidelity_kernels as k; fn = k.make({spec!r})", "fn()"]
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
        return float(pyperf.Benchmark.load(str(out)).median())


def pyperf_fast(spec: str) -> float:
    return _pyperf(spec, True)


def pyperf_default(spec: str) -> float:
    return _pyperf(spec, False)


def timeit_repeat(spec: str) -> float:
    """What ``python -m timeit`` does (autorange, then 5 repeats), median per call."""
    t = timeit.Timer(make(spec))
    number, _ = t.autorange()
    return statistics.median(t.repeat(repeat=5, number=number)) / number


TOOLS: dict[str, Callable[[str], float]] = {
    "benchbench": benchbench_engine, "pytest-benchmark": pytest_benchmark, "pyperf --fast": pyperf_fast,
    "pyperf": pyperf_default, "timeit": timeit_repeat}


def tools_wanted() -> dict[str, Callable[[str], float]]:
    names = os.environ.get("BENCHBENCH_FIDELITY_TOOLS")
    return {n: TOOLS[n] for n in json.loads(names)} if names else dict(TOOLS)
