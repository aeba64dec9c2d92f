"""RK3588 boards (Orange Pi 5, Rock 5B): thermal zones by type, the three cpufreq clusters, devfreq
NPU/GPU/DMC clocks and the vendor ``rknpu`` NPU load.

* Zone names differ by kernel (mainline ``package-thermal``/``bigcore2-thermal`` vs vendor
  ``soc-thermal``/``bigcore1-thermal``): all zones are taken by ``type``, never by number.
* ``/sys/kernel/debug/rknpu/load`` (vendor kernels only; root, debugfs) prints
  ``NPU load:  Core0: 63%, Core1: 65%, Core2: 64%,``; the driver does not clamp, so values > 100
  (``429496%``) are rejected as missing. With family option ``sudo`` (``rk3588@sudo``) an unreadable node
  is read through ``sudo -n cat`` in the plan's own thread (a spawn per read).
* There is **no on-board power monitor**: power is unavailable unless an ``ina2xx`` hwmon is fitted
  (taken as the board input) or an external meter (``ptdaemon`` family) is bound.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Dict, List, Optional, Tuple, Union

from .base import Channel, Plan, SysfsValuePlan, Unavailable, read_number, read_text, thermal_zones, under
from .cmd import CompositePlan, PolledCommandPlan, have, run_argv

FAMILY = "rk3588"
MAINLINE_ZONES = ("package-thermal", "bigcore0-thermal", "bigcore2-thermal", "littlecore-thermal",
                  "center-thermal", "gpu-thermal", "npu-thermal")
VENDOR_ZONES = ("soc-thermal", "bigcore0-thermal", "bigcore1-thermal", "littlecore-thermal",
                "center-thermal", "gpu-thermal", "npu-thermal")
POLICIES = {"policy0": "a55", "policy4": "a76_0", "policy6": "a76_1"}
DEVFREQ = {"fdab0000.npu": "npu", "fb000000.gpu": "gpu", "dmc": "dmc"}
NPU_DIRS = ("/sys/kernel/debug/rknpu", "/proc/rknpu")
NPU_CORES = 3
_CORE = re.compile(r"Core(\d+):\s*(\d*)%")
_SINGLE = re.compile(r"NPU load:\s*(\d+)%")
NO_POWER = ("RK3588 boards have no on-board power monitor; bind an external meter (ptdaemon) or fit an "
            "ina2xx hwmon sensor")

Entry = Tuple[Channel, str, float]


def parse_npu_load(text: str) -> List[Optional[float]]:
    """Per-core NPU load in %; a value > 100 (unclamped driver, e.g. 429496) is missing, not clamped."""
    cores = {int(i): (float(v) if v else None) for i, v in _CORE.findall(text)}
    if cores:
        vals = [cores.get(i) for i in range(max(cores) + 1)]
    else:
        m = _SINGLE.search(text)
        vals = [float(m.group(1))] if m else []
    return [v if v is not None and 0 <= v <= 100 else None for v in vals]


def parse_driver_version(text: str) -> Optional[str]:
    m = re.search(r"RKNPU driver:\s*(\S+)", text)
    return m.group(1) if m else None


def _zone_entries(root: str) -> List[Entry]:
    out: List[Entry] = []
    for ztype, temp in thermal_zones(root):
        known = ztype in MAINLINE_ZONES or ztype in VENDOR_ZONES
        out.append((Channel(ztype.replace("-thermal", "").replace("-", "_") + "_temp", "temperature", "C",
                            temp, label=None if known else "unrecognised zone type " + ztype), temp, 1e-3))
    return out


def _clock_entries(root: str) -> List[Entry]:
    out: List[Entry] = []
    for pol, name in POLICIES.items():
        cur = under(root, f"/sys/devices/system/cpu/cpufreq/{pol}/scaling_cur_freq")
        if os.path.exists(cur):
            out.append((Channel(f"cpu_{name}_clock", "clock", "MHz", cur, label="cpufreq " + pol), cur, 1e-3))
    for dev, name in DEVFREQ.items():
        cur = under(root, f"/sys/class/devfreq/{dev}/cur_freq")
        if os.path.exists(cur):
            out.append((Channel(f"{name}_clock", "clock", "MHz", cur, label="devfreq " + dev), cur, 1e-6))
    return out


def _npu_dir(root: str) -> Optional[str]:
    for d in NPU_DIRS:
        if os.path.exists(under(root, d + "/load")):
            return under(root, d)
    return None


def _ina2xx_entries(root: str) -> List[Entry]:
    out: List[Entry] = []
    for hw in sorted(glob.glob(under(root, "/sys/class/hwmon/hwmon*"))):
        name = (read_text(os.path.join(hw, "name")) or "").strip()
        if name.startswith("ina2") and os.path.exists(os.path.join(hw, "power1_input")):
            p = os.path.join(hw, "power1_input")
            out.append((Channel("board_power", "power", "W", p, scope="board_input",
                                label=f"{name} hwmon, taken as the board input (as fitted by the user)"),
                        p, 1e-6))
    return out


class _NpuLoadPlan(Plan):
    """Direct read of the rknpu ``load`` file (cheap: a debugfs file, no spawn)."""

    family = FAMILY

    def __init__(self, path: str, n: int) -> None:
        super().__init__([Channel(f"npu_core{i}_load", "load", "%", path) for i in range(n)])
        self._path = path

    def read(self) -> List[Optional[float]]:
        vals = parse_npu_load(read_text(self._path) or "")
        return (vals + [None] * len(self.channels))[: len(self.channels)]


def probe(root: str = "/", option: Optional[str] = None) -> Union[Plan, Unavailable]:
    entries = _zone_entries(root) + _clock_entries(root)
    power = _ina2xx_entries(root)
    unavailable: List[Unavailable] = []
    if not power:
        unavailable.append(Unavailable(FAMILY, "power", NO_POWER, scope="board_input"))
    parts: List[Plan] = []
    if entries or power:
        parts.append(SysfsValuePlan(FAMILY, power + entries))
    npu = _npu_dir(root)
    load_path = os.path.join(npu, "load") if npu else under(root, NPU_DIRS[0] + "/load")
    text = read_text(load_path) if npu else None
    if text is not None and parse_npu_load(text):
        parts.append(_NpuLoadPlan(load_path, max(len(parse_npu_load(text)), 1)))
        for fname, chan, quantity, unit, scale in (("freq", "npu_debugfs_clock", "clock", "MHz", 1e-6),
                                                   ("volt", "npu_voltage", "voltage", "V", 1e-6)):
            path = os.path.join(npu or "", fname)
            if read_number(path) is not None:
                parts.append(SysfsValuePlan(FAMILY, [(Channel(chan, quantity, unit, path), path, scale)]))
    elif option == "sudo" and have("sudo"):
        argv = ["sudo", "-n", "cat", NPU_DIRS[0] + "/load"]
        first = run_argv(argv, timeout_s=5.0)
        if first is not None and parse_npu_load(first):
            n = len(parse_npu_load(first))
            chans = [Channel(f"npu_core{i}_load", "load", "%", " ".join(argv)) for i in range(n)]

            def fetch() -> List[Optional[float]]:
                vals = parse_npu_load(run_argv(argv, timeout_s=2.0) or "")
                return (vals + [None] * n)[:n]

            parts.append(PolledCommandPlan(FAMILY, chans, fetch, period_s=0.5))
        else:
            unavailable.append(Unavailable(FAMILY, "load", f"'sudo -n cat {argv[3]}' failed: passwordless "
                                                           "sudo not allowed or not a vendor (rknpu) kernel"))
    else:
        unavailable.append(Unavailable(FAMILY, "load", f"NPU load unreadable: {load_path} is root-only "
                                                       "debugfs on vendor kernels (run as root, or allow "
                                                       "'sudo -n' in the device profile)"))
    if not parts:
        return Unavailable(FAMILY, "temperature", f"no RK3588 thermal, cpufreq or devfreq nodes under {root}")
    return CompositePlan(FAMILY, parts, unavailable)


def environment(root: str = "/") -> Dict[str, Any]:
    """RKNPU driver version and devfreq governors, for the job snapshot."""
    env: Dict[str, Any] = {"rknpu_driver": None, "devfreq_governors": {}}
    npu = _npu_dir(root)
    if npu:
        env["rknpu_driver"] = parse_driver_version(read_text(os.path.join(npu, "version")) or "")
    for dev in DEVFREQ:
        gov = read_text(under(root, f"/sys/class/devfreq/{dev}/governor"))
        if gov:
            env["devfreq_governors"][dev] = gov.strip()
    return env
