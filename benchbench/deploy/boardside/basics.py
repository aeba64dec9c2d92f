"""Board side of ``fleet check``: the board's Python version, architecture, free disk under the work dir
(argv[1], which may not exist yet) and thermal-zone temperatures, as one JSON line."""

import glob
import json
import os
import platform
import sys
from typing import List


def main(argv: List[str]) -> None:
    p = os.path.expanduser(argv[0])
    while not os.path.exists(p):
        p = os.path.dirname(p)
    st = os.statvfs(p)
    temps: List[float] = []
    for f in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        try:
            with open(f) as fh:
                temps.append(int(fh.read().strip()) / 1000.0)
        except (OSError, ValueError):
            pass
    print(json.dumps({"python": platform.python_version(), "version_info": list(sys.version_info[:2]),
                      "arch": platform.machine(), "free_bytes": st.f_bavail * st.f_frsize, "temps_c": temps}))


if __name__ == "__main__":
    main(sys.argv[1:])
