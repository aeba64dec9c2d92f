"""Was the worker alone on the CPU during its timed rounds? Evidence read around each round (outside the timed
window): the worker's own CPU time and run-queue wait (``/proc/self/task/*/schedstat``: time its threads were
runnable but not running), the other processes' CPU use and the steal time (``/proc/stat``), runnable
processes (``procs_running``) and the load average. A job whose threads waited for a CPU, or whose CPU was
stolen by a hypervisor, is ``contended``: its numbers are kept, but it yields no speed-up claim.
"""

from __future__ import annotations

import glob
import os
import time
from typing import Any, Dict, List, Optional

#: the worker's threads waited on a run queue for at least this share of their CPU time in one round …
MAX_WAIT_FRACTION = 0.05
#: … while other processes used at least this many cores: a runtime's own threads waking each other up
#: (onnxruntime's pool, thousands of hand-offs per round) also count as run-queue wait, with nothing else
#: running: that is part of the workload, not contention
WAIT_WITH_FOREIGN_CORES = 0.1
#: a hypervisor took at least this share of the machine's CPU time during a round
MAX_STEAL_FRACTION = 0.02
#: fallback without schedstat: other processes used this many cores while fewer than FREE_CORES were idle
FOREIGN_CORES = 0.25
FREE_CORES = 0.5


def _tick_s() -> float:
    try:
        return 1.0 / os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 0.01


def _proc_stat() -> Dict[str, float]:
    out: Dict[str, float] = {}
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("cpu "):
                    f = [float(x) for x in line.split()[1:]]
                    f += [0.0] * (8 - len(f))
                    tick = _tick_s()
                    # user nice system idle iowait irq softirq steal (guest time is inside user)
                    out["busy_s"] = (f[0] + f[1] + f[2] + f[5] + f[6]) * tick
                    out["steal_s"] = f[7] * tick
                    out["total_s"] = sum(f[:8]) * tick
                elif line.startswith("procs_running"):
                    out["procs_running"] = float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _own_threads() -> Dict[str, float]:
    """Summed schedstat of this process's threads (run ns, wait ns) and how many are running now."""
    run_ns = wait_ns = 0
    running = 0
    ok = False
    for task in glob.glob("/proc/self/task/*"):
        try:
            with open(task + "/schedstat") as fh:
                parts = fh.read().split()
            run_ns += int(parts[0])
            wait_ns += int(parts[1])
            ok = True
            with open(task + "/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "R":
                    running += 1
        except (OSError, ValueError, IndexError):
            continue
    out: Dict[str, float] = {"running": float(running)}
    if ok:
        out["run_s"] = run_ns / 1e9
        out["wait_s"] = wait_ns / 1e9
    return out


def snapshot() -> Dict[str, float]:
    snap = _proc_stat()
    snap.update(_own_threads())
    t = os.times()
    snap["own_cpu_s"] = t.user + t.system + t.children_user + t.children_system
    snap["t_s"] = time.monotonic()
    try:
        snap["loadavg_1m"] = os.getloadavg()[0]
    except OSError:
        pass
    return snap


def between(a: Dict[str, float], b: Dict[str, float], ncpu: Optional[int] = None) -> Dict[str, Any]:
    """Evidence for one round from the snapshots taken just before and just after it."""
    ncpu = ncpu or os.cpu_count() or 1
    wall = max(b["t_s"] - a["t_s"], 1e-9)
    own = max(b["own_cpu_s"] - a["own_cpu_s"], 0.0)
    ev: Dict[str, Any] = {"wall_s": wall, "own_cpu_s": own, "cpu_over_wall": own / wall, "ncpu": ncpu}
    if "wait_s" in a and "wait_s" in b:
        wait = max(b["wait_s"] - a["wait_s"], 0.0)
        ev["run_queue_wait_s"] = wait
        ev["wait_fraction"] = wait / max(own, wait, 1e-9)
    if "busy_s" in a and "busy_s" in b:
        total = max(b["total_s"] - a["total_s"], 1e-9)
        # /proc/stat ticks are coarse (10 ms): clamp the foreign share at 0 for short rounds
        ev["foreign_cpu_cores"] = max(b["busy_s"] - a["busy_s"] - own, 0.0) / wall
        ev["steal_fraction"] = max(b["steal_s"] - a["steal_s"], 0.0) / total
    if "procs_running" in b:
        # runnable tasks at the round's end that are not ours (our own running threads excluded)
        ev["other_runnable"] = max(b["procs_running"] - b.get("running", 1.0), 0.0)
    if "loadavg_1m" in b:
        ev["loadavg_1m"] = b["loadavg_1m"]
    return ev


def judge(rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Totals over a job's timed rounds and the contended verdict with its evidence in words."""
    out: Dict[str, Any] = {"contended": False, "evidence": [], "rounds": rounds,
                           "rule": "contended when in any timed round the worker's threads waited on a run "
                                   f"queue >= {MAX_WAIT_FRACTION * 100:.0f} % of their CPU time while other "
                                   f"processes used >= {WAIT_WITH_FOREIGN_CORES:.2f} cores, or steal >= "
                                   f"{MAX_STEAL_FRACTION * 100:.0f} % (without schedstat: others used >= "
                                   f"{FOREIGN_CORES:.2f} cores while < {FREE_CORES:.1f} cores were idle)"}
    if not rounds:
        return out
    wall = sum(r["wall_s"] for r in rounds)
    own = sum(r["own_cpu_s"] for r in rounds)
    out["cpu_over_wall"] = own / wall if wall > 0 else None
    for key in ("foreign_cpu_cores", "steal_fraction", "wait_fraction", "other_runnable", "loadavg_1m"):
        vals = [r[key] for r in rounds if r.get(key) is not None]
        if vals:
            out[key + "_max"] = max(vals)
    ev: List[str] = out["evidence"]
    for i, r in enumerate(rounds, 1):
        wait = r.get("wait_fraction")
        foreign_used = r.get("foreign_cpu_cores", WAIT_WITH_FOREIGN_CORES) >= WAIT_WITH_FOREIGN_CORES
        if wait is not None and wait >= MAX_WAIT_FRACTION and not foreign_used:
            out.setdefault("notes", []).append(
                f"round {i}: threads waited {wait * 100:.0f} % of their CPU time for a CPU with no other "
                "process using one (the runtime's own thread hand-offs): not counted as contention")
        if wait is not None and wait >= MAX_WAIT_FRACTION and foreign_used:
            ev.append("round {}: waited for a CPU {:.0f} % of its CPU time ({:.1f} ms), others used {:.2f} "
                      "cores, {} other runnable, load {:.2f}".format(
                          i, wait * 100, r["run_queue_wait_s"] * 1e3, r.get("foreign_cpu_cores", 0.0),
                          r.get("other_runnable", 0), r.get("loadavg_1m", 0.0)))
        if r.get("steal_fraction") is not None and r["steal_fraction"] >= MAX_STEAL_FRACTION:
            ev.append("round {}: steal {:.1f} % of CPU time".format(i, r["steal_fraction"] * 100))
        if wait is None and r.get("foreign_cpu_cores") is not None:
            foreign = r["foreign_cpu_cores"]
            free = r["ncpu"] - r["cpu_over_wall"] - foreign
            if foreign >= FOREIGN_CORES and free < FREE_CORES:
                ev.append(f"round {i}: other processes used {foreign:.2f} cores, {free:.2f} idle")
    out["contended"] = bool(ev)
    return out
