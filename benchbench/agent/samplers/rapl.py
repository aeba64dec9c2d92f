"""x86 RAPL energy counters via powercap (``energy_uj`` µJ → J, wrapping at ``max_energy_range_uj``).

Package domains have scope ``cpu_package``; sub-domains (core, uncore, dram) are ``rail``.
``energy_uj`` is root-only since Linux 5.10 (CVE-2020-8694 mitigation): an unreadable counter is
reported as unavailable with that reason, never as 0.
"""

from __future__ import annotations

import glob
import os
from typing import List, Union

from .base import Channel, Plan, SysfsValuePlan, Unavailable, read_number, read_text, under

FAMILY = "rapl"


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    base = under(root, "/sys/class/powercap")
    domains = sorted(glob.glob(os.path.join(base, "intel-rapl:*")))
    if not domains:
        return Unavailable(FAMILY, "energy", f"no {base}/intel-rapl:* domains (not x86, intel_rapl not "
                                             "loaded, or a VM that hides RAPL)", scope="cpu_package")
    entries = []
    denied: List[str] = []
    for dom in domains:
        energy = os.path.join(dom, "energy_uj")
        if not os.path.exists(energy):
            continue
        if read_number(energy) is None:
            denied.append(energy)
            continue
        name = (read_text(os.path.join(dom, "name")) or os.path.basename(dom)).strip()
        wrap = read_number(os.path.join(dom, "max_energy_range_uj"))
        sub = os.path.basename(dom).count(":") > 1
        scope = "rail" if sub or not name.startswith("package") else "cpu_package"
        label = f"{name} ({os.path.basename(dom)})"
        entries.append((Channel(name.replace("-", "_") + "_energy", "energy", "J", energy, scope=scope,
                                wrap_at=wrap * 1e-6 if wrap else None, label=label), energy, 1e-6))
    if not entries:
        return Unavailable(FAMILY, "energy", "{} not readable: energy_uj is root-only since Linux 5.10; run "
                                             "the agent as root or grant read access"
                                             .format(", ".join(denied)), scope="cpu_package")
    return SysfsValuePlan(FAMILY, entries)
