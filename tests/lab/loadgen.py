"""Bounded background CPU load for the fair-comparison tests: a hog process that busy-spins during 'on'
phases and sleeps during 'off' phases, pinned to a chosen CPU, ending by itself after ``duration_s``; and a
helper that runs the real agent on a request pinned to the same CPU (children inherit the affinity).

Usage as a process: ``python loadgen.py CPU DURATION_S ON_S OFF_S [SEED]`` (with a seed the phase lengths
are drawn uniformly from 0.5x–1.5x of ON_S/OFF_S: intermittent, not periodic).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchbench.agent.protocol import RunRequest


def hog(cpu: int, duration_s: float, on_s: float, off_s: float, seed: int | None = None) -> None:
    os.sched_setaffinity(0, {cpu})
    rng = random.Random(seed)
    end = time.monotonic() + duration_s
    x = 0
    while time.monotonic() < end:
        f_on, f_off = (rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)) if seed is not None else (1.0, 1.0)
        stop = min(time.monotonic() + on_s * f_on, end)
        while time.monotonic() < stop:
            x += 1
        time.sleep(max(0.0, min(off_s * f_off, end - time.monotonic())))


def start_hog(cpu: int, duration_s: float, on_s: float, off_s: float,
              seed: int | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, str(cpu), repr(duration_s), repr(on_s), repr(off_s)]
    return subprocess.Popen(args + ([str(seed)] if seed is not None else []))


def run_agent(tmp: Path, req: RunRequest, cpu: int | None = None) -> list[dict[str, Any]]:
    """The real agent (subprocess) on ``req``; job lines of its results file."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "req.json").write_text(req.to_json())
    (tmp / "art").mkdir(exist_ok=True)
    results = tmp / "res.jsonl"
    if results.exists():
        results.unlink()
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    subprocess.run([sys.executable, "-m", "benchbench.agent", "run", "--request", str(tmp / "req.json"),
                    "--results", str(results), "--artifacts", str(tmp / "art"), "--quiet"],
                   check=True, timeout=600, preexec_fn=pin)
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    return [x for x in lines if x["type"] == "job"]


if __name__ == "__main__":
    hog(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]),
        int(sys.argv[5]) if len(sys.argv) > 5 else None)
