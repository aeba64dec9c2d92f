"""A suite slow enough to interrupt mid-run (six busy jobs of ~1 s each), and a pytest-benchmark file."""

from __future__ import annotations

from .suites import suite_yaml

SLOW_SUITE = suite_yaml("slow", """\
  - workload: busy
    params: {n: [20000, 20001, 20002, 20003, 20004, 20005]}
""", warmup_s=0.05, min_value_s=0.05, rounds=4, values_per_round=5, max_timed_s=60)

#: a pytest-benchmark file whose benchmark target is a ~1 ms pure-Python loop
SPIN_BENCH = """\
def spin(n):
    acc = 0
    for i in range(n):
        acc += i
    return acc


def test_spin(benchmark):
    benchmark(spin, 20000)
"""
