"""NVIDIA discrete GPUs: NVML (``nvidia-ml-py``, module ``pynvml``, imported lazily so the agent stays
stdlib-only), with an ``nvidia-smi`` CSV fallback. Scope ``gpu_board`` (the whole card, not the host).

* The total-energy counter (mJ since driver load, Volta+) is preferred: ``power.draw`` is a 1 s average
  on Ampere+ and smears short inferences. Power (mW) is the fallback channel.
* Clock-event ("throttle") reasons are sampled as a bitmask channel (quantity ``state``); the bits that
  mean throttling are in ``THROTTLE_REASONS``.
* Not for Jetson Orin: NVML initialises there but reports NotSupported (use the ``jetson`` family).
* ``nvidia-smi`` CSV cells carry units (``131.17 W``) unless ``nounits``; ``N/A``/``[Not Supported]``
  cells are missing values. The fallback polls in its own thread (a spawn per read).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Dict, List, Optional, Union

from .base import Channel, Plan, Unavailable
from .cmd import PolledCommandPlan, have, run_argv

FAMILY = "nvml"
log = logging.getLogger(__name__)

#: clock event reason bits (nvml.h) that mean the GPU was slowed down, not idle or app-clocked
THROTTLE_REASONS = {0x4: "SwPowerCap", 0x8: "HwSlowdown", 0x20: "SwThermalSlowdown",
                    0x40: "HwThermalSlowdown", 0x80: "HwPowerBrakeSlowdown"}
SMI_FIELDS = ("index", "name", "power.draw", "memory.used", "clocks.sm", "clocks.mem", "temperature.gpu",
              "utilization.gpu", "clocks_throttle_reasons.active")
_UNIT = re.compile(r"^(.*?)\s*\[(.+)\]$")


def parse_cell(cell: str) -> Optional[float]:
    """``131.17 W`` → 131.17, ``0x0000000000000004`` → 4, ``N/A`` / ``[Not Supported]`` → None."""
    text = cell.strip()
    if text.lower().startswith("0x"):
        try:
            return float(int(text, 16))
        except ValueError:
            return None
    token = text.split(" ", 1)[0] if text else ""
    try:
        return float(token)
    except ValueError:
        return None


def parse_csv(text: str) -> List[Dict[str, Any]]:
    """``nvidia-smi --format=csv`` (header + rows, ``, `` separated) → rows keyed by the header's
    canonical field names; each value is ``{"raw", "value", "unit"}``."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = []
    for h in lines[0].split(","):
        m = _UNIT.match(h.strip())
        header.append((m.group(1), m.group(2)) if m else (h.strip(), None))
    rows = []
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.split(",")]
        rows.append({name: {"raw": cell, "value": parse_cell(cell), "unit": unit}
                     for (name, unit), cell in zip(header, cells)})
    return rows


def reasons(mask: int) -> List[str]:
    return [name for bit, name in THROTTLE_REASONS.items() if mask & bit]


def _reader(fn: Callable[..., Any], *args: Any, scale: float = 1.0,
            attr: Optional[str] = None) -> Callable[[], Optional[float]]:
    def read() -> Optional[float]:
        val = fn(*args)
        return float(getattr(val, attr) if attr else val) * scale
    return read


def _nvml_probe() -> Union[Plan, Unavailable]:
    try:
        import pynvml
    except ImportError:
        return Unavailable(FAMILY, "power", "nvidia-ml-py (pynvml) not installed", scope="gpu_board")
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        return Unavailable(FAMILY, "power", f"NVML init failed: {exc}", scope="gpu_board")
    # renamed in NVML 13 (ClocksThrottleReasons → ClocksEventReasons); use whichever the binding has
    event_reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
        pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
    readers: List[Callable[[], Optional[float]]] = []
    channels: List[Channel] = []
    unavailable: List[Unavailable] = []

    def add(ch: Channel, fn: Callable[[], Optional[float]]) -> None:
        try:
            fn()
        except pynvml.NVMLError as exc:  # NotSupported on this GPU (e.g. Jetson Orin): say so
            unavailable.append(Unavailable(FAMILY, ch.quantity, f"{ch.name}: {exc}", scope=ch.scope))
            return
        channels.append(ch)
        readers.append(fn)

    for i in range(count):
        h = pynvml.nvmlDeviceGetHandleByIndex(i)
        src = f"NVML gpu{i}"
        try:  # the card's enforced power limit (mW): the plausibility bound for its power and energy
            limit_w: Optional[float] = pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
        except pynvml.NVMLError:
            limit_w = None
        energy_ch = Channel(f"gpu{i}_energy", "energy", "J", src + " TotalEnergyConsumption",
                            scope="gpu_board", label="GPU board energy counter (mJ since driver load)",
                            limit_w=limit_w)
        before = len(channels)
        add(energy_ch, _reader(pynvml.nvmlDeviceGetTotalEnergyConsumption, h, scale=1e-3))
        if len(channels) == before:  # no counter (pre-Volta): sampled power instead
            add(Channel(f"gpu{i}_power", "power", "W", src + " PowerUsage", scope="gpu_board",
                        label="GPU board power (1 s average on Ampere+)", limit_w=limit_w),
                _reader(pynvml.nvmlDeviceGetPowerUsage, h, scale=1e-3))
        add(Channel(f"gpu{i}_memory_used", "memory", "bytes", src + " MemoryInfo.used"),
            _reader(pynvml.nvmlDeviceGetMemoryInfo, h, attr="used"))
        add(Channel(f"gpu{i}_sm_clock", "clock", "MHz", src + " ClockInfo(SM)"),
            _reader(pynvml.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_SM))
        add(Channel(f"gpu{i}_mem_clock", "clock", "MHz", src + " ClockInfo(MEM)"),
            _reader(pynvml.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_MEM))
        add(Channel(f"gpu{i}_temp", "temperature", "C", src + " Temperature(GPU)"),
            _reader(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU))
        add(Channel(f"gpu{i}_load", "load", "%", src + " UtilizationRates.gpu"),
            _reader(pynvml.nvmlDeviceGetUtilizationRates, h, attr="gpu"))
        add(Channel(f"gpu{i}_clock_event_reasons", "state", "bitmask", src + " CurrentClocksEventReasons"),
            _reader(event_reasons, h))
    if not channels:
        return Unavailable(FAMILY, "power", f"NVML found {count} GPU(s) but no readable sensor",
                           scope="gpu_board")

    class NvmlPlan(Plan):
        family = FAMILY

        def read(self) -> List[Optional[float]]:
            out: List[Optional[float]] = []
            for fn in readers:
                try:
                    out.append(fn())
                except pynvml.NVMLError:
                    out.append(None)
            return out

    return NvmlPlan(channels, unavailable)


def _smi_probe() -> Union[Plan, Unavailable]:
    argv = ["nvidia-smi", "--query-gpu=" + ",".join(SMI_FIELDS), "--format=csv"]
    rows = parse_csv(run_argv(argv, timeout_s=10.0) or "")
    if not rows:
        return Unavailable(FAMILY, "power", "nvidia-smi listed no GPUs", scope="gpu_board")
    src = " ".join(argv)
    spec = [("power.draw", "power", "W", 1.0), ("memory.used", "memory", "bytes", 1048576.0),
            ("clocks.sm", "clock", "MHz", 1.0), ("clocks.mem", "clock", "MHz", 1.0),
            ("temperature.gpu", "temperature", "C", 1.0), ("utilization.gpu", "load", "%", 1.0),
            ("clocks_throttle_reasons.active", "state", "bitmask", 1.0)]
    names = {"power.draw": "power", "memory.used": "memory_used", "clocks.sm": "sm_clock",
             "clocks.mem": "mem_clock", "temperature.gpu": "temp", "utilization.gpu": "load",
             "clocks_throttle_reasons.active": "clock_event_reasons"}
    channels = []
    for i in range(len(rows)):
        for field, qty, unit, _scale in spec:
            channels.append(Channel(f"gpu{i}_{names[field]}", qty, unit, src,
                                    scope="gpu_board" if qty == "power" else None,
                                    label="nvidia-smi power.draw (1 s average on Ampere+)" if qty == "power"
                                    else None))

    def fetch() -> List[Optional[float]]:
        text = run_argv(argv, timeout_s=5.0) or ""
        lines = [ln for ln in text.splitlines() if ln.strip()][1:]
        vals: List[Optional[float]] = []
        for i in range(len(rows)):
            cells = [c.strip() for c in lines[i].split(",")] if i < len(lines) else []
            for field, _q, _u, scale in spec:
                pos = SMI_FIELDS.index(field)
                v = parse_cell(cells[pos]) if pos < len(cells) else None
                vals.append(v * scale if v is not None else None)
        return vals

    return PolledCommandPlan(FAMILY, channels, fetch, period_s=0.2)


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    res = _nvml_probe()
    if isinstance(res, Plan):
        return res
    if have("nvidia-smi"):
        fb = _smi_probe()
        if isinstance(fb, Plan):
            fb.unavailable.append(res)
        return fb
    return Unavailable(FAMILY, "power", res.reason + "; nvidia-smi not on PATH either", scope="gpu_board")


def environment(root: str = "/") -> Dict[str, Any]:
    if not have("nvidia-smi"):
        return {"driver": None}
    rows = parse_csv(run_argv(["nvidia-smi", "--query-gpu=driver_version,name,vbios_version",
                               "--format=csv"], timeout_s=10.0) or "")
    return {"driver": rows[0]["driver_version"]["raw"] if rows and "driver_version" in rows[0] else None,
            "gpus": [r.get("name", {}).get("raw") for r in rows]}
