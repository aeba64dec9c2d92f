"""pytest plugin shipped with the agent (loaded with ``-p bb_pytest_energy`` in the pytest-benchmark child):
after pytest-benchmark has timed the test's target, run that same target back to back for the steady-state
energy window and write the window's monotonic start/end (ns, CLOCK_MONOTONIC is system-wide, the same clock
as the agent's samplers) and the call count to ``$BB_ENERGY_OUT``. The window holds the benchmark target only,
not pytest's start-up, collection or pytest-benchmark's calibration. Standalone: no imports from the agent.
"""

import json
import os
import time
from typing import Any, Callable

WINDOW_ENV = "BB_ENERGY_WINDOW_S"
OUT_ENV = "BB_ENERGY_OUT"


def _loop(call: Callable[[], Any], holds: str) -> None:
    window_s = float(os.environ.get(WINDOW_ENV) or 0)
    out = os.environ.get(OUT_ENV)
    if window_s <= 0 or not out:
        return
    limit_ns = int(window_s * 1e9)
    calls = 0
    t0 = t1 = time.monotonic_ns()
    while t1 - t0 < limit_ns:
        call()
        calls += 1
        t1 = time.monotonic_ns()
    with open(out, "w") as fh:
        json.dump({"t_start_ns": t0, "t_end_ns": t1, "calls": calls, "window_s": window_s, "holds": holds},
                  fh)


def pytest_configure(config: Any) -> None:
    from pytest_benchmark.fixture import BenchmarkFixture

    # pytest-benchmark is untyped: its two entry points, held as plain callables
    plain: Callable[..., Any] = getattr(BenchmarkFixture, "__call__")  # noqa: B004, B009
    pedantic: Callable[..., Any] = getattr(BenchmarkFixture, "pedantic")  # noqa: B009

    def call(self: Any, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = plain(self, function_to_benchmark, *args, **kwargs)
        _loop(lambda: function_to_benchmark(*args, **kwargs),
              "the test's benchmark() target only, called back to back")
        return result

    def ped(self: Any, target: Callable[..., Any], args: Any = (), kwargs: Any = None, setup: Any = None,
            teardown: Any = None, **rest: Any) -> Any:
        result = pedantic(self, target, args=args, kwargs=kwargs, setup=setup, teardown=teardown, **rest)

        def once() -> None:
            a, k = (setup() or (args, kwargs)) if setup else (args, kwargs)
            target(*a, **(k or {}))
            if teardown:
                teardown(*a, **(k or {}))
        with_setup = " with its setup/teardown" if setup or teardown else ""
        _loop(once, f"the test's benchmark.pedantic() target{with_setup}, called back to back")
        return result

    setattr(BenchmarkFixture, "__call__", call)  # noqa: B010  (patching a third-party class on purpose)
    setattr(BenchmarkFixture, "pedantic", ped)  # noqa: B010
