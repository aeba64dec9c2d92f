"""Huawei Ascend NPUs via ``npu-smi`` (310B boards, 310P cards, 910/910B servers). Scope ``accelerator``.

* ``npu-smi info`` prints two table rows per chip. Row 1: NPU id, name, health, power (W, ``%.1f``; 310P
  prints ``NA``, the second die of a two-die 910 prints ``-``), temperature, hugepages. Row 2: chip,
  device/phy id, Bus-Id (``NA`` on SoCs), AICore %, ``Memory-Usage(MB)`` and, on HBM parts,
  ``HBM-Usage(MB)`` (910B forces the memory column to 0/0: HBM is the memory).
* ``0.0`` W with a health other than ``OK`` (310B ``Alarm``, error 80E3A203 "obtaining the current is
  abnormal") is a failed current sensor: **missing**, not zero.
* ``-t power`` labels differ: ``NPU Real-time Power(W)``, ``Power Dissipation(W)`` (MCU) and ``Rated
  Power Dissipation(W)`` (310: a rating, not a measurement). ``key : value`` is parsed by regex since key
  widths vary (30 or 40).
* Each call is a process spawn; the plan runs ``npu-smi info`` in its own thread at 1 Hz.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple, Union

from .base import Channel, Plan, Unavailable
from .cmd import PolledCommandPlan, have, run_argv

FAMILY = "ascend"
POWER_LABEL = "NPU power (npu-smi/DCMI, 0.1 W resolution); board total needs an external meter"
_ROW1 = re.compile(r"^(\S+)\s+(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_ROW2 = re.compile(r"^(\d+)\s+(\d+)\s*/\s*(\d+)(?:\s+(\d+)\s*/\s*(\d+))?$")
_VERSION = re.compile(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)")
POWER_KEYS = ("NPU Real-time Power(W)", "Power Dissipation(W)", "Power(W)", "Rated Power Dissipation(W)")


def _power(text: str, health: str) -> Optional[float]:
    try:
        val = float(text)
    except ValueError:
        return None  # "NA" (310P), "-" (second die of a two-die 910)
    if val == 0.0 and health.upper() != "OK":
        return None  # failed current sensing reports 0.0 with a non-OK health
    return val


def parse_info(text: str) -> Dict[str, Any]:
    """``npu-smi info`` → ``{"version": str|None, "chips": [ {npu, name, health, power_raw, power_w,
    temp_c, chip, bus_id, aicore_pct, mem_used_mb, mem_total_mb, hbm_used_mb, hbm_total_mb} ]}``."""
    chips: List[Dict[str, Any]] = []
    version = None
    pending: Optional[Dict[str, Any]] = None
    for line in text.splitlines():
        m = _VERSION.search(line)
        if m:
            version = m.group(2)
        row = line.strip()
        cells = [c.strip() for c in row.strip("|").split("|")] if row.startswith("|") else []
        if len(cells) != 3:
            pending = None if cells else pending
            continue
        r1 = _ROW1.match(cells[2])
        head = cells[0].split(None, 1)
        if r1 and len(head) == 2 and head[0].isdigit():
            pending = {"npu": int(head[0]), "name": head[1], "health": cells[1], "power_raw": r1.group(1),
                       "power_w": _power(r1.group(1), cells[1]), "temp_c": float(r1.group(2)),
                       "hugepages_used": int(r1.group(3)), "hugepages_total": int(r1.group(4))}
            continue
        r2 = _ROW2.match(cells[2])
        if r2 and pending is not None and head and head[0].isdigit():
            pending.update(chip=int(head[0]), bus_id=None if cells[1] == "NA" else cells[1],
                           aicore_pct=float(r2.group(1)), mem_used_mb=float(r2.group(2)),
                           mem_total_mb=float(r2.group(3)),
                           hbm_used_mb=float(r2.group(4)) if r2.group(4) else None,
                           hbm_total_mb=float(r2.group(5)) if r2.group(5) else None)
            chips.append(pending)
        pending = None
    return {"version": version, "chips": chips}


def parse_kv(text: str) -> Dict[str, str]:
    """``key : value`` lines of ``npu-smi info -t <type>``; indented lines without a colon continue the
    previous value (``Error Information`` wraps)."""
    out: Dict[str, str] = {}
    last: Optional[str] = None
    for line in text.splitlines():
        m = re.match(r"^\s*([^:]+?)\s*:\s?(.*?)\s*$", line)
        if m and not (last and line[:1].isspace() and "=" in m.group(1)):
            last = m.group(1)
            out[last] = m.group(2)
        elif last and line.strip():
            out[last] = (out[last] + " " + line.strip()).strip()
    return out


def power_from_kv(kv: Dict[str, str]) -> Tuple[Optional[float], Optional[str]]:
    """(watts, key) from ``-t power`` output; a *rated* value is returned with its key so callers can
    refuse it as a measurement."""
    for key in POWER_KEYS:
        if key in kv:
            try:
                return float(kv[key]), key
            except ValueError:
                return None, key
    return None, None


def usages_from_kv(kv: Dict[str, str]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for k, v in kv.items():
        try:
            out[k] = float(v)
        except ValueError:
            continue
    return out


def _memory(chip: Dict[str, Any]) -> Tuple[Optional[float], str]:
    if chip.get("hbm_total_mb"):
        return chip.get("hbm_used_mb"), "HBM-Usage(MB)"
    return chip.get("mem_used_mb"), "Memory-Usage(MB)"


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    if not have("npu-smi"):
        return Unavailable(FAMILY, "power", "npu-smi not on PATH (no Ascend driver)", scope="accelerator")
    first = run_argv(["npu-smi", "info"], timeout_s=10.0)
    chips = parse_info(first or "")["chips"]
    if not chips:
        return Unavailable(FAMILY, "power", "npu-smi info listed no chips (driver not loaded, or no device "
                           "access for this user)", scope="accelerator")
    channels: List[Channel] = []
    unavailable: List[Unavailable] = []
    layout: List[Tuple[int, int, str]] = []  # (npu, chip, field)
    for c in chips:
        tag = "npu{}_chip{}".format(c["npu"], c["chip"])
        if c["power_raw"] == "-":
            pass  # second die: its power is in the first die's value
        elif c["power_raw"].upper() == "NA":
            unavailable.append(Unavailable(FAMILY, "power", "{} ({}): npu-smi prints NA (power not supported "
                                           "for this chip type)".format(tag, c["name"]), scope="accelerator"))
        else:
            two_die = any(o["npu"] == c["npu"] and o["power_raw"] == "-" for o in chips)
            channels.append(Channel(tag + "_power", "power", "W", "npu-smi info", scope="accelerator",
                                    label=POWER_LABEL + ("; covers both dies" if two_die else "")))
            layout.append((c["npu"], c["chip"], "power_w"))
        channels.append(Channel(tag + "_temp", "temperature", "C", "npu-smi info"))
        channels.append(Channel(tag + "_aicore_load", "load", "%", "npu-smi info"))
        _mem, col = _memory(c)
        channels.append(Channel(tag + "_memory_used", "memory", "bytes", "npu-smi info " + col,
                                label="npu-smi MB taken as MiB"))
        layout += [(c["npu"], c["chip"], "temp_c"), (c["npu"], c["chip"], "aicore_pct"),
                   (c["npu"], c["chip"], "memory")]

    def fetch() -> List[Optional[float]]:
        now = {(c["npu"], c["chip"]): c for c in parse_info(run_argv(["npu-smi", "info"], timeout_s=5.0)
                                                            or "")["chips"]}
        vals: List[Optional[float]] = []
        for npu, chip, field in layout:
            c = now.get((npu, chip))
            if c is None:
                vals.append(None)
            elif field == "memory":
                mb = _memory(c)[0]
                vals.append(mb * 1048576 if mb is not None else None)
            else:
                vals.append(c.get(field))
        return vals

    return PolledCommandPlan(FAMILY, channels, fetch, period_s=1.0, unavailable=unavailable)


def environment(root: str = "/") -> Dict[str, Any]:
    """npu-smi version and per-chip health (``-t health``), for the job snapshot."""
    if not have("npu-smi"):
        return {"npu_smi": None}
    info = parse_info(run_argv(["npu-smi", "info"], timeout_s=10.0) or "")
    health: Dict[str, Any] = {}
    for c in info["chips"]:
        kv = parse_kv(run_argv(["npu-smi", "info", "-t", "health", "-i", str(c["npu"]), "-c", str(c["chip"])],
                               timeout_s=5.0) or "")
        health["npu{}_chip{}".format(c["npu"], c["chip"])] = {
            "status": kv.get("Health Status"), "error_code": kv.get("Error Code"),
            "error": kv.get("Error Information")}
    return {"npu_smi": info["version"], "chips": [c["name"] for c in info["chips"]], "health": health}
