"""Pure-Python kernels: a calibrated busy loop of known cost (for timer fidelity and overhead probes)."""

from __future__ import annotations

from ..protocol import JobSpec
from . import Prepared, Unsupported


def busy_loop(n: int) -> int:
    acc = 0
    for i in range(n):
        acc += i
    return acc


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    if job.workload != "busy":
        raise Unsupported(f"python backend has no workload {job.workload!r}")
    n = int(job.params.get("n", 1000))
    return Prepared(fn=lambda: busy_loop(n), implementation=f"CPython for-loop summing range({n})",
                    timed_window="one busy_loop(n) call (pure Python, GIL held)")
