"""pytest plugin shipped with the agent (loaded with ``-p bb_pytest_energy`` in the pytest-benchmark child):
after pytest-benchmark has timed the test's target, run that same target back to back for the steady-state
energy window and write the window's monotonic start/end (ns, CLOCK_MONOTONIC is system-wide, the same clock
as the agent's samplers) and the call count to ``$BB_ENERGY_OUT``. The window holds the benchmark target only,
not pytest's start-up, collection or pytest-benchmark's calibration. Standalone: no imports from the agent.
"""

import json
import os
import time

WINDOW_ENV = "BB_ENERGY_WINDOW_S"
OUT_ENV = "BB_ENERGY_OUT"


def _loop(call, holds):  # type: ignore[no-untyped-def]
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
        json.dump({"t_start_ns": t0, "t_end_ns": t1, "calls": calls, "window_s": window_s, "holds": holds}, fh)


def pytest_configure(config):  # type: ignore[no-untyped-def]
    from pytest_benchmark.fixture import BenchmarkFixture

    plain, pedantic = BenchmarkFixture.__call__, BenchmarkFixture.pedantic

    def call(self, function_to_benchmark, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = plain(self, function_to_benchmark, *args, **kwargs)
        _loop(lambda: function_to_benchmark(*args, **kwargs),
              "the test's benchmark() target only, called back to back")
        return result

    def ped(self, target, args=(), kwargs=None, setup=None, teardown=None, **rest):  # type: ignore[no-untyped-def]
        result = pedantic(self, target, args=args, kwargs=kwargs, setup=setup, teardown=teardown, **rest)

        def once():  # type: ignore[no-untyped-def]
            a, k = (setup() or (args, kwargs)) if setup else (args, kwargs)
            target(*a, **(k or {}))
            if teardown:
                teardown(*a, **(k or {}))
        _loop(once, "the test's benchmark.pedantic() target" + (" with its setup/teardown" if setup or teardown
                                                                 else "") + ", called back to back")
        return result

    BenchmarkFixture.__call__ = call
    BenchmarkFixture.pedantic = ped
