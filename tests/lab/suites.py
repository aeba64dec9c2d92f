"""Suite files for tests: the header every test suite shares, so a test spells out only its jobs and what it
changes of the quick timing."""

from __future__ import annotations

#: two rounds of three values, a second's budget at most: fast, and enough for the statistics to run
QUICK_TIMING = {"warmup_s": 0.01, "min_value_s": 0.002, "rounds": 2, "values_per_round": 3, "max_timed_s": 1}


def suite_yaml(name: str, jobs: str, *, interval_s: float = 0.05, families: str | None = None,
               **timing: float) -> str:
    """A suite's text: ``name``, the quick timing with the keys of ``timing`` replaced, sampling every
    ``interval_s`` without the overhead measurement (only ``families``, a YAML list, where given), then
    ``jobs``: the list's items, indented two spaces."""
    keys = ", ".join(f"{k}: {v}" for k, v in {**QUICK_TIMING, **timing}.items())
    only = f", families: {families}" if families else ""
    return (f"name: {name}\ntiming: {{{keys}}}\n"
            f"sampling: {{interval_s: {interval_s}, measure_overhead: false{only}}}\njobs:\n{jobs}")
