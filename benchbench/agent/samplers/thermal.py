"""Temperatures: thermal zones by ``type`` and hwmon ``temp*_input`` by name/label (m°C → °C).

Zones are named by their type, never by index: the index order changes between kernels.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List, Union

from .base import Channel, Plan, SysfsValuePlan, Unavailable, read_text, under

FAMILY = "thermal"


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    entries = []
    seen: Dict[str, int] = {}

    def unique(name: str) -> str:
        n = seen.get(name, 0)
        seen[name] = n + 1
        return name if n == 0 else f"{name}_{n}"

    zones = under(root, "/sys/class/thermal")
    for zone in sorted(glob.glob(os.path.join(zones, "thermal_zone*"))):
        temp = os.path.join(zone, "temp")
        ztype = (read_text(os.path.join(zone, "type")) or os.path.basename(zone)).strip()
        if os.path.exists(temp):
            entries.append((Channel(unique(ztype) + "_temp", "temperature", "C", temp), temp, 1e-3))
    hwmons = under(root, "/sys/class/hwmon")
    for hw in sorted(glob.glob(os.path.join(hwmons, "hwmon*"))):
        hname = (read_text(os.path.join(hw, "name")) or os.path.basename(hw)).strip()
        for inp in sorted(glob.glob(os.path.join(hw, "temp*_input"))):
            label = read_text(inp.replace("_input", "_label"))
            base = f"{hname}_{label.strip() if label else os.path.basename(inp)[:-6]}"
            entries.append((Channel(unique(base.replace(" ", "_")) + "_temp", "temperature", "C", inp),
                            inp, 1e-3))
    if not entries:
        return Unavailable(FAMILY, "temperature",
                           f"no thermal_zone*/temp under {zones} and no hwmon temp*_input under {hwmons}")
    return SysfsValuePlan(FAMILY, entries)


def zone_types(root: str = "/") -> List[str]:
    return [(read_text(os.path.join(z, "type")) or "").strip()
            for z in sorted(glob.glob(os.path.join(under(root, "/sys/class/thermal"), "thermal_zone*")))]
