"""CPU clocks: cpufreq policies (kHz) or, where there is no cpufreq (VMs), /proc/cpuinfo ``cpu MHz``."""

from __future__ import annotations

import glob
import os
import re
from typing import List, Optional, Union

from .base import Channel, Plan, SysfsValuePlan, Unavailable, read_text, under

FAMILY = "cpufreq"
_MHZ = re.compile(r"^cpu MHz\s*:\s*([0-9.]+)", re.MULTILINE)


class _CpuinfoPlan(Plan):
    family = FAMILY

    def __init__(self, path: str, count: int) -> None:
        super().__init__([Channel(f"cpu{i}_clock", "clock", "MHz", path + " (cpu MHz)",
                                  label="as reported by /proc/cpuinfo; in a VM this may be nominal")
                          for i in range(count)])
        self._path = path

    def read(self) -> List[Optional[float]]:
        text = read_text(self._path) or ""
        vals: List[Optional[float]] = [float(m) for m in _MHZ.findall(text)]
        vals += [None] * (len(self.channels) - len(vals))
        return vals[: len(self.channels)]


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    base = under(root, "/sys/devices/system/cpu/cpufreq")
    entries = []
    for pol in sorted(glob.glob(os.path.join(base, "policy*")), key=_policy_num):
        cur = os.path.join(pol, "scaling_cur_freq")
        if not os.path.exists(cur):
            cur = os.path.join(pol, "cpuinfo_cur_freq")
        if os.path.exists(cur):
            name = os.path.basename(pol)
            entries.append((Channel(name + "_clock", "clock", "MHz", cur), cur, 1e-3))
    if entries:
        return SysfsValuePlan(FAMILY, entries)
    cpuinfo = under(root, "/proc/cpuinfo")
    text = read_text(cpuinfo) or ""
    count = len(_MHZ.findall(text))
    if count:
        return _CpuinfoPlan(cpuinfo, count)
    return Unavailable(FAMILY, "clock", f"no cpufreq policies under {base} and no 'cpu MHz' in {cpuinfo}")


def _policy_num(path: str) -> int:
    m = re.search(r"(\d+)$", path)
    return int(m.group(1)) if m else 0
