"""Rail simulator: a separate process that rewrites an hwmon ``curr<k>_input`` (mA) file on a schedule,
so energy integration can be checked against the known integral.

Each value is written in place with one fixed-width ``pwrite`` at offset 0 (samplers keep sensor files open
and ``pread`` them, as on real sysfs, so the inode must stay the same) and the switch time is logged as
``time.monotonic_ns()`` — CLOCK_MONOTONIC is system-wide, so the log is on the same clock as the sampler.
``exact_energy_j`` integrates the logged piecewise-constant power.

Usage as a process: ``python rail_sim.py CURR_FILE LOG_FILE SCHEDULE_JSON`` where the schedule is
``[[duration_s, milliamps], ...]``; the log gets one ``<t_ns> <mA>`` line per switch and ``end <t_ns>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

Schedule = Sequence[tuple[float, int]]


def run(curr_path: str, log_path: str, schedule: Schedule) -> None:
    fd = os.open(curr_path, os.O_WRONLY)
    with open(log_path, "w") as log:
        t_next = time.monotonic()
        for duration_s, ma in schedule:
            os.pwrite(fd, b"%11d\n" % ma, 0)  # fixed width: a reader never sees a shorter, stale tail
            log.write(f"{time.monotonic_ns()} {int(ma)}\n")
            log.flush()
            t_next += duration_s
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        log.write(f"end {time.monotonic_ns()}\n")
    os.close(fd)


def read_log(log_path: str) -> tuple[list[tuple[int, int]], int]:
    steps: list[tuple[int, int]] = []
    end = 0
    for line in Path(log_path).read_text().splitlines():
        a, b = line.split()
        if a == "end":
            end = int(b)
        else:
            steps.append((int(a), int(b)))
    return steps, end


def exact_energy_j(log_path: str, volt_mv: float, window: tuple[int, int]) -> float:
    """Energy (J) of V × I over ``window`` (monotonic ns) from the logged switches."""
    steps, end = read_log(log_path)
    a, b = window
    total = 0.0
    for i, (t, ma) in enumerate(steps):
        t_end = steps[i + 1][0] if i + 1 < len(steps) else end
        lo, hi = max(t, a), min(t_end, b)
        if hi > lo:
            total += volt_mv * ma / 1e6 * (hi - lo) / 1e9
    return total


def start(curr_path: str, log_path: str, schedule: Schedule) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, curr_path, log_path, json.dumps(list(schedule))])


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], [(float(d), int(m)) for d, m in json.loads(sys.argv[3])])
