"""Generic hwmon power/energy (INA2xx, INA3221 on JetPack 5+, …): ``power*_input`` µW, ``energy*_input``
µJ, otherwise ``in*_input`` mV × ``curr*_input`` mA paired by channel number. Scope is ``rail`` unless a
device profile says what a channel covers.
"""

from __future__ import annotations

import glob
import os
import re
from typing import List, Optional, Union

from .base import Channel, OpenFiles, Plan, Unavailable, read_text, under

FAMILY = "hwmon"


class HwmonPowerPlan(Plan):
    family = FAMILY

    def __init__(self, entries: List[tuple[Channel, tuple[str, ...], float]]) -> None:
        super().__init__([e[0] for e in entries])
        self._entries = [(e[1], e[2]) for e in entries]
        self._files = OpenFiles()

    def close(self) -> None:
        self._files.close()

    def read(self) -> List[Optional[float]]:
        out: List[Optional[float]] = []
        for paths, scale in self._entries:
            vals = [self._files.number(p) for p in paths]
            if any(v is None for v in vals):
                out.append(None)
                continue
            prod = 1.0
            for v in vals:
                prod *= v  # type: ignore[operator]
            out.append(prod * scale)
        return out


def _label(hw: str, stem: str) -> str:
    text = read_text(os.path.join(hw, stem + "_label"))
    return text.strip() if text else stem


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    base = under(root, "/sys/class/hwmon")
    entries: List[tuple[Channel, tuple[str, ...], float]] = []
    for hw in sorted(glob.glob(os.path.join(base, "hwmon*"))):
        hname = (read_text(os.path.join(hw, "name")) or os.path.basename(hw)).strip()
        for p in sorted(glob.glob(os.path.join(hw, "power*_input"))):
            stem = os.path.basename(p)[: -len("_input")]
            entries.append((Channel(f"{hname}_{_label(hw, stem)}_power", "power", "W", p, scope="rail"),
                            (p,), 1e-6))
        for p in sorted(glob.glob(os.path.join(hw, "energy*_input"))):
            stem = os.path.basename(p)[: -len("_input")]
            entries.append((Channel(f"{hname}_{_label(hw, stem)}_energy", "energy", "J", p, scope="rail"),
                            (p,), 1e-6))
        has_power = any(os.path.dirname(e[1][0]) == hw for e in entries)
        if has_power:
            continue
        for cur in sorted(glob.glob(os.path.join(hw, "curr*_input"))):
            n = re.search(r"curr(\d+)_input$", cur)
            volt = os.path.join(hw, f"in{n.group(1)}_input") if n else ""
            if n and os.path.exists(volt):
                label = _label(hw, "in" + n.group(1))
                if label.upper() == "NC":  # not-connected INA3221 channel
                    continue
                entries.append((Channel(f"{hname}_{label}_power", "power", "W", f"{volt} × {cur}",
                                        scope="rail"), (volt, cur), 1e-6))
    if not entries:
        return Unavailable(FAMILY, "power", "no hwmon power*_input, energy*_input or in*/curr*_input pairs "
                           f"under {base}")
    return HwmonPowerPlan(entries)
