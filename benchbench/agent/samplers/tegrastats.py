"""Jetson ``tegrastats`` lines (JetPack 4/5/6/7), the fallback when the INA3221 sysfs nodes are not
readable. The format changed in every release, so the parser is tolerant field by field:

* JP4: rails without unit, ``POM_5V_IN 933/933`` (mW implied, current/average), temps ``CPU@23.5C``
* JP5/6: leading ``MM-DD-YYYY HH:MM:SS``, rails ``VDD_IN 5704mW/5704mW``, ``GR3D_FREQ 10%@1300``
* JP6 Orin Nano: ``GR3D_FREQ 0%@[305]``; JP7: three rail values ``5139mW/5139mW/5139mW`` (third value's
  meaning unknown: only the first, the current value, is used), temps ``cpu@52.968C/52.968C``,
  ``GR3D_FREQ 12%@[1300,1300]``; Thor: ``GR3D_FREQ @[1000,1000,1000]`` (no load)
* ``-256C`` is the "zone offline" sentinel → None; ``NC`` rails are unconnected → skipped.
"""

from __future__ import annotations

import re
import select
import subprocess
from typing import Any, Dict, List, Optional, Tuple, Union

from .base import Channel, Plan, Unavailable
from .cmd import StreamCommandPlan, have

FAMILY = "tegrastats"

_DATE = re.compile(r"^\s*(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d)\s")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)MB")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_GR3D = re.compile(r"\bGR3D_FREQ (\S*?)%?@\[?([0-9,]*)\]?(?=\s|$)")
_GR3D_NOFREQ = re.compile(r"\bGR3D_FREQ (\d+)%(?=\s|$)")
_EMC = re.compile(r"\bEMC_FREQ (\d+)%(?:@(\d+))?")
_TEMP = re.compile(r"(?<!\S)([A-Za-z][\w.-]*)@(-?[0-9.]+)C(?:/(-?[0-9.]+)C)?(?=\s|$)")
# rail: NAME cur/avg[/third], optional mW units; a unit other than mW (RAM 1/2MB) does not match
_RAIL = re.compile(r"(?<!\S)([A-Z][A-Za-z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+)(?:mW)?)?(?=\s|$)")
_NOT_RAILS = ("RAM", "SWAP", "IRAM")
OFFLINE_C = -256.0
#: rails that are the module's input on their own (the rest are summed)
INPUT_RAILS = ("VDD_IN", "POM_5V_IN", "VIN")


def _num(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None  # e.g. "$RAND_GPU" placeholders in emulator lines, "off"


def parse_line(line: str) -> Dict[str, Any]:
    """One tegrastats line → ``{date, ram_used_mb, ram_total_mb, cpu: [(load_pct, mhz) | None],
    emc_load_pct, emc_mhz, gpu_load_pct, gpu_mhz: [..], temps_c: {name: °C | None}, rails_mw: {name:
    mW}}``."""
    out: Dict[str, Any] = {"date": None, "ram_used_mb": None, "ram_total_mb": None, "cpu": [],
                           "emc_load_pct": None, "emc_mhz": None, "gpu_load_pct": None, "gpu_mhz": [],
                           "temps_c": {}, "rails_mw": {}}
    m = _DATE.match(line)
    if m:
        out["date"] = m.group(1)
    m = _RAM.search(line)
    if m:
        out["ram_used_mb"], out["ram_total_mb"] = float(m.group(1)), float(m.group(2))
    m = _CPU.search(line)
    if m:
        for core in m.group(1).split(","):
            if "%@" in core:
                load, mhz = core.split("%@", 1)
                out["cpu"].append((_num(load), _num(mhz)))
            elif core.strip() not in ("...", ""):
                out["cpu"].append(None)  # "off"
    m = _EMC.search(line)
    if m:
        out["emc_load_pct"] = float(m.group(1))
        out["emc_mhz"] = float(m.group(2)) if m.group(2) else None
    m = _GR3D.search(line)
    if m:
        out["gpu_load_pct"] = _num(m.group(1)) if m.group(1) else None
        out["gpu_mhz"] = [float(f) for f in m.group(2).split(",") if f]
    else:
        m = _GR3D_NOFREQ.search(line)
        if m:
            out["gpu_load_pct"] = float(m.group(1))
    for name, cur, _avg in _TEMP.findall(line):
        val = float(cur)
        out["temps_c"][name] = None if val <= OFFLINE_C else val
    for name, cur, _avg, _third in _RAIL.findall(line):
        if name in _NOT_RAILS or name == "NC":
            continue
        out["rails_mw"][name] = float(cur)
    return out


def headline(rails: List[str]) -> Tuple[Optional[str], str, str]:
    """(input rail or None for a sum, scope, label) — the "total" differs per module (boards.md §3.5)."""
    for name in INPUT_RAILS:
        if name in rails:
            label = (f"module input ({name}); excludes carrier board, peripherals and fan")
            return name, "module_input", label
    return None, "rails_sum", "sum of INA3221 rails ({}); a module estimate, not board or wall power".format(
        ", ".join(rails))


def _first_line(argv: List[str], timeout_s: float) -> Optional[str]:
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        return proc.stdout.readline().decode(errors="replace") if ready else None
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def probe(root: str = "/", interval_ms: int = 100) -> Union[Plan, Unavailable]:
    if not have("tegrastats"):
        return Unavailable(FAMILY, "power", "tegrastats not on PATH (not a Jetson, or L4T tools missing)",
                           scope="module_input")
    argv = ["tegrastats", "--interval", str(interval_ms)]
    line = _first_line(argv, timeout_s=max(3.0, 3 * interval_ms / 1000))
    if not line:
        return Unavailable(FAMILY, "power", "tegrastats printed no line (some images need root for it)",
                           scope="module_input")
    first = parse_line(line)
    rails = sorted(first["rails_mw"])
    channels: List[Channel] = []
    src = " ".join(argv)
    unavailable: List[Unavailable] = []
    if rails:
        inp, scope, label = headline(rails)
        channels.append(Channel("jetson_total_power", "power", "W", src, scope=scope, label=label))
        channels += [Channel(f"{r.lower()}_power", "power", "W", src, scope="rail", label=r) for r in rails]
    else:
        unavailable.append(Unavailable(FAMILY, "power", "tegrastats line has no rail fields",
                                       scope="module_input"))
    temps = sorted(first["temps_c"])
    channels += [Channel(f"{t.lower()}_temp", "temperature", "C", src) for t in temps]
    channels.append(Channel("gpu_load", "load", "%", src, label="GR3D_FREQ utilisation"))
    channels.append(Channel("gpu_clock", "clock", "MHz", src, label="GR3D_FREQ (first GPC)"))
    channels.append(Channel("ram_used", "memory", "bytes", src, label="tegrastats RAM, MB taken as MiB"))

    def parse(text: str) -> Optional[List[Optional[float]]]:
        rec = parse_line(text)
        if not rec["rails_mw"] and not rec["temps_c"] and rec["ram_used_mb"] is None:
            return None
        vals: List[Optional[float]] = []
        if rails:
            r = rec["rails_mw"]
            if inp is not None:
                vals.append(r[inp] / 1e3 if inp in r else None)
            else:
                vals.append(sum(r[k] for k in rails) / 1e3 if all(k in r for k in rails) else None)
            vals += [r[k] / 1e3 if k in r else None for k in rails]
        vals += [rec["temps_c"].get(t) for t in temps]
        vals.append(rec["gpu_load_pct"])
        vals.append(rec["gpu_mhz"][0] if rec["gpu_mhz"] else None)
        vals.append(rec["ram_used_mb"] * 1048576 if rec["ram_used_mb"] is not None else None)
        return vals

    return StreamCommandPlan(FAMILY, channels, argv, parse, unavailable)

