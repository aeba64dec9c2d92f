"""Board side of ``fleet check``: the board's Python version, architecture, free disk under the work dir
(argv[1], which may not exist yet) and thermal-zone temperatures, as one JSON line.

Unlike the other board-side programs this one must parse on ANY Python (2.7 and 3.0+): it is what finds out
that a board's Python is too old for the agent, so a SyntaxError here would hide that reason. Hence no
annotations (mypy reads the type comments), no f-strings, no typing import, and sys.stdout.write rather
than print; ASCII only (Python 2 refuses other source bytes without a coding line).
"""

import glob
import json
import os
import platform
import sys


def main(argv):  # type: (list[str]) -> None
    # absolute first: dirname() of a relative path ends at "", which never exists
    p = os.path.abspath(os.path.expanduser(argv[0]))
    while not os.path.exists(p):
        p = os.path.dirname(p)
    st = os.statvfs(p)
    temps = []  # type: list[float]
    for f in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        try:
            with open(f) as fh:
                temps.append(int(fh.read().strip()) / 1000.0)
        except (OSError, IOError, ValueError):  # Python 2's open raises IOError
            pass
    out = {"python": platform.python_version(), "version_info": list(sys.version_info[:2]),
           "arch": platform.machine(), "free_bytes": st.f_bavail * st.f_frsize, "temps_c": temps}
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
