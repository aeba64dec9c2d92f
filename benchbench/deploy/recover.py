"""Resuming a run on a board: stop an agent left over from a lost controller, so two measurements never
overlap on one board, before the remaining jobs start."""

from __future__ import annotations

import logging

from ..transport.base import Transport
from .remote import board_call_script

log = logging.getLogger(__name__)

# argv: run_dir. Reads run_dir/agent.pid ("pid pgid"), checks the process still runs this run's agent,
# SIGTERMs its group (the agent writes its end line), waits up to 10 s, then SIGKILLs. Prints what it did.
_STOP_SCRIPT = r"""
import json, os, signal, sys, time
run_dir = os.path.expanduser(sys.argv[1])
p = os.path.join(run_dir, "agent.pid")
out = {"found": False, "stopped": False}
try:
    pid, pgid = (int(x) for x in open(p).read().split()[:2])
except (OSError, ValueError):
    print(json.dumps(out)); sys.exit(0)
try:
    cmd = open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(errors="replace")
except OSError:
    cmd = ""
if run_dir.rstrip("/").split("/")[-1] in cmd:
    out["found"] = True
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.1)
        if not os.path.exists("/proc/%d" % pid):
            break
    out["stopped"] = not os.path.exists("/proc/%d" % pid)
print(json.dumps(out))
"""


def stop_leftover_agent(transport: Transport, python: str, run_dir: str) -> bool:
    """True when an agent of this run was still running on the board (and is now stopped)."""
    res = board_call_script(transport, python, _STOP_SCRIPT, [run_dir], timeout_s=60)
    if res.get("found"):
        log.warning("%s: stopped a leftover agent of this run (controller was lost)", transport.name)
    return bool(res.get("found"))
