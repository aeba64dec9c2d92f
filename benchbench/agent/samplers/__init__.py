"""Sensor families. Each module exposes ``FAMILY`` and ``probe(root) -> Plan | Unavailable``."""

from __future__ import annotations

import importlib
import logging
from typing import Dict, List, Sequence, Tuple, Union

from .base import Channel, Plan, Unavailable

log = logging.getLogger(__name__)

#: family name → module (relative); board families are added here, chosen per board by its profile
FAMILIES: Dict[str, str] = {
    "cpufreq": ".cpufreq",
    "thermal": ".thermal",
    "memory": ".memory",
    "rapl": ".rapl",
    "hwmon": ".hwmon",
}


def probe_all(families: Sequence[str], root: str = "/") -> Tuple[List[Plan], List[Unavailable]]:
    plans: List[Plan] = []
    missing: List[Unavailable] = []
    for fam in families:
        modname = FAMILIES.get(fam)
        if modname is None:
            missing.append(Unavailable(fam, "unknown", "no sampler family %r in this agent" % fam))
            continue
        mod = importlib.import_module(modname, __name__)
        try:
            res: Union[Plan, Unavailable] = mod.probe(root)
        except OSError as exc:  # a sensor tree that vanishes mid-probe is a missing sensor, not a crash
            res = Unavailable(fam, "unknown", "probe failed: %s" % exc)
        if isinstance(res, Unavailable):
            missing.append(res)
        else:
            plans.append(res)
            missing.extend(res.unavailable)
    return plans, missing


__all__ = ["Channel", "Plan", "Unavailable", "probe_all", "FAMILIES"]
