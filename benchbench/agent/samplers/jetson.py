"""NVIDIA Jetson: INA3221 power rails, iGPU load and clock, thermal zones by type.

* JetPack 5+ (mainline ``ina3221`` hwmon): ``in<k>_label`` names the rail, P = ``in<k>_input`` mV ×
  ``curr<k>_input`` mA (the driver has no power file). ``NC`` channels and the "sum of shunt voltages"
  channel (``in7``) are skipped. Found through ``name`` = ina3221, never by hwmon index.
* JetPack 4 (``ina3221x`` IIO): ``rail_name_<n>`` + ``in_power<n>_input`` mW.
* The headline ("total") is the module input rail where one exists (Orin Nano/NX ``VDD_IN``, Nano
  ``POM_5V_IN``), else the sum of all rails (AGX Orin/Xavier) — see ``tegrastats.headline``.
* GPU load is per-mille in ``<gpu>/load``; GPU clock from devfreq (Hz). ``-256`` °C means zone offline.
* NVML is not used here: on Orin it initialises but reports NotSupported for power.

When no INA3221 node is readable, the ``tegrastats`` fallback is tried.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import tegrastats
from .base import Channel, OpenFiles, Plan, Unavailable, read_text, thermal_zones, under
from .cmd import have, run_argv

FAMILY = "jetson"

GPU_LOAD_PATHS = ("/sys/devices/platform/bus@0/17000000.gpu/load", "/sys/devices/platform/17000000.gpu/load",
                  "/sys/devices/platform/gpu.0/load", "/sys/devices/gpu.0/load",
                  "/sys/devices/17000000.gv11b/load", "/sys/devices/57000000.gpu/load")
GPU_OF_NAMES = ("gpu", "gv11b", "gp10b", "ga10b", "gb10b", "gm20b")
_OFFLINE_C = -256.0

# (channel, kind, paths, scale): kind "product" multiplies the paths' values
Entry = Tuple[Channel, str, Tuple[str, ...], float]


def _rail_entries(root: str) -> Tuple[List[Entry], List[str]]:
    """INA3221 rails as power entries (scope "rail"), and what was skipped, JP5+ first then JP4."""
    entries: List[Entry] = []
    skipped: List[str] = []
    seen = set()
    hwmons = glob.glob(under(root, "/sys/bus/i2c/devices/*/hwmon/hwmon*")) + \
        glob.glob(under(root, "/sys/class/hwmon/hwmon*"))
    for hw in sorted(hwmons):
        real = os.path.realpath(hw)
        if real in seen or "ina3221" not in (read_text(os.path.join(hw, "name")) or ""):
            continue
        seen.add(real)
        for cur in sorted(glob.glob(os.path.join(hw, "curr*_input"))):
            k = re.search(r"curr(\d+)_input$", cur)
            if not k:
                continue
            label = (read_text(os.path.join(hw, f"in{k.group(1)}_label")) or "").strip()
            volt = os.path.join(hw, f"in{k.group(1)}_input")
            if not label or label.upper() == "NC" or "sum of shunt" in label.lower():
                skipped.append(os.path.join(hw, f"in{k.group(1)}_label"))
                continue
            entries.append((Channel(label.lower() + "_power", "power", "W", f"{volt} × {cur}",
                                    scope="rail", label=label), "product", (volt, cur), 1e-6))
    if entries:
        return entries, skipped
    for dev in sorted(glob.glob(under(root, "/sys/bus/i2c/drivers/ina3221x/*/iio:device*"))):
        for name_file in sorted(glob.glob(os.path.join(dev, "rail_name_*"))):
            n = name_file.rsplit("_", 1)[1]
            label = (read_text(name_file) or "").strip()
            pw = os.path.join(dev, f"in_power{n}_input")
            if not label or label.upper() == "NC" or not os.path.exists(pw):
                skipped.append(name_file)
                continue
            entries.append((Channel(label.lower() + "_power", "power", "W", pw, scope="rail", label=label),
                            "value", (pw,), 1e-3))
    return entries, skipped


def _gpu_entries(root: str) -> List[Entry]:
    out: List[Entry] = []
    candidates = [under(root, p) for p in GPU_LOAD_PATHS]
    candidates += sorted(glob.glob(under(root, "/sys/devices/platform/bus@0/*.gpu/load")))
    for path in candidates:
        if os.path.exists(path):
            out.append((Channel("gpu_load", "load", "%", path, label="iGPU load (driver per-mille ÷ 10)"),
                        "value", (path,), 0.1))
            break
    for dev in sorted(glob.glob(under(root, "/sys/class/devfreq/*"))):
        base = os.path.basename(dev)
        of_name = (read_text(os.path.join(dev, "device", "of_node", "name")) or "").strip("\x00\n ")
        if (of_name in GPU_OF_NAMES or base.endswith((".gpu", ".gv11b", ".ga10b", ".gp10b"))
                or base == "gpu-gpc-0"):
            cur = os.path.join(dev, "cur_freq")
            if os.path.exists(cur):
                out.append((Channel("gpu_clock", "clock", "MHz", cur, label="iGPU devfreq " + base),
                            "value", (cur,), 1e-6))
                break
    return out


def _thermal_entries(root: str) -> List[Entry]:
    out: List[Entry] = []
    for ztype, temp in thermal_zones(root):
        out.append((Channel(ztype.lower().replace("-", "_") + "_temp", "temperature", "C", temp),
                    "temp", (temp,), 1e-3))
    return out


class JetsonPlan(Plan):
    family = FAMILY

    def __init__(self, headline: Optional[Channel], headline_rail: Optional[int], entries: Sequence[Entry],
                 unavailable: Sequence[Unavailable] = ()) -> None:
        chans = ([headline] if headline else []) + [e[0] for e in entries]
        super().__init__(chans, unavailable)
        self._headline = headline is not None
        self._headline_rail = headline_rail  # index into entries, or None: sum of power entries
        self._entries = list(entries)
        self._files = OpenFiles()

    def close(self) -> None:
        self._files.close()

    def read(self) -> List[Optional[float]]:
        read_number = self._files.number
        vals: List[Optional[float]] = []
        for _ch, kind, paths, scale in self._entries:
            if kind == "product":
                a, b = read_number(paths[0]), read_number(paths[1])
                vals.append(a * b * scale if a is not None and b is not None else None)
            else:
                v = read_number(paths[0], scale)
                vals.append(None if kind == "temp" and v is not None and v <= _OFFLINE_C else v)
        if not self._headline:
            return vals
        if self._headline_rail is not None:
            head = vals[self._headline_rail]
        else:
            rails = [v for (ch, _k, _p, _s), v in zip(self._entries, vals) if ch.quantity == "power"]
            ok = [v for v in rails if v is not None]
            head = sum(ok) if rails and len(ok) == len(rails) else None
        return [head] + vals


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    rails, _skipped = _rail_entries(root)
    others = _gpu_entries(root) + _thermal_entries(root)
    unavailable: List[Unavailable] = []
    if not rails:
        if have("tegrastats"):  # describes the live board whatever the sysfs root
            fallback = tegrastats.probe(root)
            if isinstance(fallback, Plan):
                return fallback
        if not others:
            return Unavailable(FAMILY, "power", "no ina3221 hwmon or ina3221x iio rails, no Jetson GPU or "
                               f"thermal nodes under {root}", scope="module_input")
        unavailable.append(Unavailable(FAMILY, "power", "no readable INA3221 rails (ina3221 hwmon / ina3221x "
                                       "iio) and no tegrastats fallback", scope="module_input"))
        return JetsonPlan(None, None, others, unavailable)
    names = [e[0].label or "" for e in rails]
    inp, scope, label = tegrastats.headline(names)
    head = Channel("jetson_total_power", "power", "W", "INA3221 " + (inp or "+".join(names)), scope=scope,
                   label=label)
    return JetsonPlan(head, names.index(inp) if inp else None, rails + others, unavailable)


_NVP_NAME = re.compile(r"^NV Power Mode:\s*(\S.*?)\s*$", re.MULTILINE)


def parse_nvpmodel(text: str) -> Dict[str, Any]:
    """``nvpmodel -q``: ``NV Power Mode: <NAME>`` then the numeric id on the next line (warnings may
    precede)."""
    out: Dict[str, Any] = {"mode_name": None, "mode_id": None}
    m = _NVP_NAME.search(text)
    if m:
        out["mode_name"] = m.group(1)
        rest = text[m.end():].split()
        if rest and rest[0].isdigit():
            out["mode_id"] = int(rest[0])
    return out


def parse_jetson_clocks(text: str) -> Dict[str, Any]:
    """``jetson_clocks --show``: SoC family, machine and per-CPU governor/min/max/current (kHz)."""
    out: Dict[str, Any] = {"soc_family": None, "machine": None, "cpus": {}}
    m = re.search(r"SOC family:(\S+)\s+Machine:(.*)$", text, re.MULTILINE)
    if m:
        out["soc_family"], out["machine"] = m.group(1), m.group(2).strip()
    for m in re.finditer(r"^(cpu\d+): Online=(\d) Governor=(\S+) MinFreq=(\d+) MaxFreq=(\d+) "
                         r"CurrentFreq=(\d+)", text, re.MULTILINE):
        out["cpus"][m.group(1)] = {"online": m.group(2) == "1", "governor": m.group(3),
                                   "min_khz": int(m.group(4)), "max_khz": int(m.group(5)),
                                   "cur_khz": int(m.group(6))}
    return out


def parse_l4t_release(text: str) -> Optional[str]:
    """``/etc/nv_tegra_release`` first line ``# R35 (release), REVISION: 4.1, …`` → ``R35.4.1``."""
    m = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([0-9.]+)", text)
    return f"R{m.group(1)}.{m.group(2)}" if m else None


def environment(root: str = "/") -> Dict[str, Any]:
    """L4T release, nvpmodel mode and jetson_clocks state, for the job snapshot (before and after)."""
    env: Dict[str, Any] = {"l4t": parse_l4t_release(read_text(under(root, "/etc/nv_tegra_release")) or "")}
    model = read_text(under(root, "/proc/device-tree/model"))
    env["model"] = model.strip("\x00\n ") if model else None
    nvp = run_argv(["nvpmodel", "-q"], timeout_s=5.0) if have("nvpmodel") else None
    env["nvpmodel"] = parse_nvpmodel(nvp) if nvp is not None else None
    jc = run_argv(["jetson_clocks", "--show"], timeout_s=5.0) if have("jetson_clocks") else None
    env["jetson_clocks"] = parse_jetson_clocks(jc) if jc is not None else None
    return env
