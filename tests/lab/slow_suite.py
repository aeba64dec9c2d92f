"""A suite slow enough to interrupt mid-run (six busy jobs of ~1 s each), and the agent processes still
alive."""

from __future__ import annotations

import subprocess

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


def agent_processes(marker: str, zipapp_only: bool = False) -> list[str]:
    """``ps`` lines of processes whose command line holds ``marker`` (an agent's cache or work dir)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [ln for ln in out.splitlines()
            if marker in ln and "ps -eo" not in ln and (".pyz" in ln or not zipapp_only)]
