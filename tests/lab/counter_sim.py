"""Energy-counter simulator: a separate process that advances a RAPL ``energy_uj`` (or hwmon
``energy*_input``, µJ) file in steps every ``step_s`` at a known constant power, like a sensor whose counter
updates only every 100 ms (NVML) or 20 ms. Writes are in place (fixed-width ``pwrite``: samplers keep the
file open and ``pread`` it) at absolute times ``t0 + k·step``, so the counter's long-run slope is exactly
the power even when a write wakes late.

Usage as a process: ``python counter_sim.py FILE POWER_W STEP_S DURATION_S``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def run(path: str, power_w: float, step_s: float, duration_s: float) -> None:
    fd = os.open(path, os.O_WRONLY)
    t0 = time.monotonic()
    k = 0
    while k * step_s < duration_s:
        os.pwrite(fd, b"%20d\n" % int(power_w * k * step_s * 1e6), 0)
        k += 1
        delay = t0 + k * step_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    os.close(fd)


def rapl_tree(root: Path) -> Path:
    """``root/sys/class/powercap/intel-rapl:0`` with a package domain; returns the ``energy_uj`` path."""
    dom = root / "sys" / "class" / "powercap" / "intel-rapl:0"
    dom.mkdir(parents=True)
    (dom / "name").write_text("package-0\n")
    (dom / "max_energy_range_uj").write_text("262143328850\n")
    energy = dom / "energy_uj"
    energy.write_text(f"{0:20d}\n")
    return energy


def start(path: Path, power_w: float, step_s: float, duration_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, str(path), repr(power_w), repr(step_s),
                             repr(duration_s)])


if __name__ == "__main__":
    run(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
