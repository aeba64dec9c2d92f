"""Sensor families. Each module exposes ``FAMILY`` and ``probe(root) -> Plan | Unavailable``."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Dict, List, Sequence, Tuple, Union

from .base import Channel, Plan, Unavailable

log = logging.getLogger(__name__)

#: family name → module (relative); board families are chosen per board by its device profile.
#: A family may carry an option after ``@`` (``ptdaemon@host:8888/ch1``, ``rk3588@sudo``), passed to
#: ``probe(root, option)``.
FAMILIES: Dict[str, str] = {
    "cpufreq": ".cpufreq",
    "thermal": ".thermal",
    "memory": ".memory",
    "rapl": ".rapl",
    "hwmon": ".hwmon",
    "jetson": ".jetson",
    "tegrastats": ".tegrastats",
    "rpi": ".rpi",
    "rk3588": ".rk3588",
    "ascend": ".ascend",
    "nvml": ".nvml",
    "ptdaemon": ".ptdaemon",
}


def probe_all(families: Sequence[str], root: str = "/") -> Tuple[List[Plan], List[Unavailable]]:
    plans: List[Plan] = []
    missing: List[Unavailable] = []
    for spec in families:
        fam, _, option = spec.partition("@")
        modname = FAMILIES.get(fam)
        if modname is None:
            missing.append(Unavailable(fam, "unknown", f"no sampler family {fam!r} in this agent"))
            continue
        mod = importlib.import_module(modname, __name__)
        try:
            res: Union[Plan, Unavailable] = mod.probe(root, option) if option else mod.probe(root)
        except OSError as exc:  # a sensor tree that vanishes mid-probe is a missing sensor, not a crash
            res = Unavailable(fam, "unknown", f"probe failed: {exc}")
        if isinstance(res, Unavailable):
            missing.append(res)
        else:
            plans.append(res)
            missing.extend(res.unavailable)
    return plans, missing


def family_environment(families: Sequence[str], root: str = "/") -> Dict[str, Any]:
    """Per-family environment (L4T/nvpmodel, Pi firmware and throttle flags, RKNPU driver, npu-smi
    version and health, NVIDIA driver) from each family module's optional ``environment(root)``."""
    out: Dict[str, Any] = {}
    for spec in families:
        fam = spec.partition("@")[0]
        modname = FAMILIES.get(fam)
        if modname is None:
            continue
        mod = importlib.import_module(modname, __name__)
        fn = getattr(mod, "environment", None)
        if fn is not None:
            try:
                out[fam] = fn(root)
            except OSError as exc:
                out[fam] = {"error": str(exc)}
    return out


__all__ = ["FAMILIES", "Channel", "Plan", "Unavailable", "family_environment", "probe_all"]
