"""Peak memory of the process that runs the workload.

The worker is a fresh ``exec``'d process, so ``VmHWM`` in /proc/self/status is its own high-water mark
(``ru_maxrss`` would not be: it survives fork+exec from a large parent). Writing ``5`` to
/proc/self/clear_refs resets VmHWM, which lets us report the peak inside the timed part separately.
"""

from __future__ import annotations

import re
from typing import Dict, Optional

_KB = re.compile(r"^(Vm\w+):\s+(\d+)\s*kB", re.MULTILINE)


def status_bytes(path: str = "/proc/self/status") -> Dict[str, int]:
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return {}
    return {k: int(v) * 1024 for k, v in _KB.findall(text)}


def reset_peak(path: str = "/proc/self/clear_refs") -> bool:
    try:
        with open(path, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def current_rss_bytes() -> Optional[int]:
    st = status_bytes()
    if "VmRSS" in st:
        return st["VmRSS"]
    try:
        import psutil  # only where /proc is missing (not Linux)
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)
