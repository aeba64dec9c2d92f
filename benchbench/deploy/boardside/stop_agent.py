"""Board side of resuming a run: stop an agent a lost controller left running. argv[1]: the run dir.

Reads ``run_dir/agent.pid`` ("pid pgid"), checks the process still runs this run's agent (its command line
names the run dir), SIGTERMs its group (the agent writes its end line), waits up to 10 s, then SIGKILLs.
Prints ``{"found": bool, "stopped": bool}``.
"""

import json
import os
import signal
import sys
import time
from typing import Dict, List


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def stop(run_dir: str) -> Dict[str, bool]:
    out = {"found": False, "stopped": False}
    try:
        with open(os.path.join(run_dir, "agent.pid")) as fh:
            pid, pgid = (int(x) for x in fh.read().split()[:2])
    except (OSError, ValueError):
        return out
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = ""
    if run_dir.rstrip("/").split("/")[-1] not in cmd:
        return out
    out["found"] = True
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        if not _alive(pid):
            break
    out["stopped"] = not _alive(pid)
    return out


def main(argv: List[str]) -> None:
    print(json.dumps(stop(os.path.expanduser(argv[0]))))


if __name__ == "__main__":
    main(sys.argv[1:])
