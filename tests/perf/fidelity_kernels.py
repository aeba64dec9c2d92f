"""Kernels for the timing-fidelity benchmark, importable by the tools' own worker processes (pyperf).

* ``spin:<ns>`` — busy-wait on ``perf_counter_ns`` until ``start + ns``: its cost is defined in wall time
  (plus a small entry cost the benchmark measures), so it does not move with the CPU's frequency;
* ``py:<n>`` — a pure-Python loop of ``n`` additions (fixed work: its cost follows the CPU);
* ``matmul:<n>`` — ``np.matmul`` of two n×n float64 matrices into a preallocated output, one BLAS thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def make(spec: str) -> Callable[[], Any]:
    kind, _, arg = spec.partition(":")
    if kind == "spin":
        ns = int(arg)
        clock = time.perf_counter_ns

        def spin() -> None:
            end = clock() + ns
            while clock() < end:
                pass
        return spin
    if kind == "py":
        n = int(arg)

        def py_loop() -> int:
            acc = 0
            for i in range(n):
                acc += i
            return acc
        return py_loop
    if kind == "matmul":
        import numpy as np
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # one BLAS thread: fixed work on one core, as the issue asks
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((2, int(arg), int(arg)))
        out = np.empty_like(a)

        def matmul() -> Any:
            return np.matmul(a, b, out=out)
        return matmul
    raise ValueError(f"unknown kernel {spec!r}")


def overshoot_ns(ns: int, calls: int = 2000) -> float:
    """Median time from a spin's deadline to the clock reading that ends it (the spin's exit cost beyond
    ``ns``; the median, because a preemption after the deadline would inflate a mean by milliseconds);
    for ``ns`` = 0 it is one clock read."""
    clock = time.perf_counter_ns
    over = []
    for _ in range(calls):
        end = clock() + ns
        t = clock()
        while t < end:
            t = clock()
        over.append(t - end)
    over.sort()
    return float(over[len(over) // 2])
