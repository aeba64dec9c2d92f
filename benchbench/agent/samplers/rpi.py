"""Raspberry Pi 5 via ``vcgencmd``: PMIC rails, SoC temperature, ARM clock, throttle flags, fan.

* ``pmic_read_adc`` prints ``<RAIL>_A current(N)=<A>A`` and ``<RAIL>_V volt(N)=<V>V`` lines; power is
  paired **by rail name** (never by line order). ``EXT5V_V``/``BATT_V`` have no current. The sum is scope
  ``rails_sum`` and is *not* board power: USB devices, HATs and NVMe on the 5 V side are excluded.
* ``measure_clock arm`` → ``frequency(<id>)=<Hz>``: the id varies (45, 48, 0), so parse after ``=``.
* ``get_throttled`` bits 0–3 are live, 16–19 sticky since boot; read before and after each job
  (``throttle.pi_flags_verdict``).
* Each vcgencmd call is a process spawn plus a firmware mailbox round trip, so the commands run in the
  plan's own thread at ~2 Hz (``cmd.PolledCommandPlan``); the fan (sysfs) is read in the same pass.
"""

from __future__ import annotations

import glob
import re
from typing import Any, Dict, List, Optional, Union

from .base import Channel, Plan, Unavailable, read_number, read_text, under
from .cmd import PolledCommandPlan, have, run_argv

FAMILY = "rpi"
PMIC_LABEL = "PMIC rails, excludes 5 V loads"
_ADC = re.compile(r"^\s*(\S+)_([AV]) (?:current|volt)\(\d+\)=([-0-9.eE+]+)[AV]\s*$", re.MULTILINE)

THROTTLE_BITS = {0: "under-voltage", 1: "arm frequency capped", 2: "throttled", 3: "soft temperature limit"}
LIVE_MASK = 0xF
STICKY_MASK = 0xF0000


def parse_pmic_read_adc(text: str) -> Dict[str, Dict[str, float]]:
    """→ ``{"current_a": {rail: A}, "volt_v": {rail: V}}`` keyed by rail name (``_A``/``_V`` stripped)."""
    out: Dict[str, Dict[str, float]] = {"current_a": {}, "volt_v": {}}
    for rail, kind, val in _ADC.findall(text):
        out["current_a" if kind == "A" else "volt_v"][rail] = float(val)
    return out


def rail_powers_w(adc: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    """Per-rail power for rails that have both a current and a voltage channel."""
    return {r: a * adc["volt_v"][r] for r, a in adc["current_a"].items() if r in adc["volt_v"]}


def parse_after_equals(text: str, suffix: str = "") -> Optional[float]:
    """``temp=62.3'C`` / ``frequency(45)=1400000000`` / ``volt=0.8V`` → the number after ``=``."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if "=" not in line:
        return None
    val = line.split("=", 1)[1].strip()
    if suffix and val.endswith(suffix):
        val = val[: -len(suffix)]
    try:
        return float(val)
    except ValueError:
        return None


def parse_measure_temp(text: str) -> Optional[float]:
    return parse_after_equals(text, "'C")


def parse_measure_clock(text: str) -> Optional[float]:
    """Hz."""
    return parse_after_equals(text)


def parse_throttled(text: str) -> Optional[int]:
    m = re.search(r"throttled=(0x[0-9a-fA-F]+)", text)
    return int(m.group(1), 16) if m else None


def decode_throttled(flags: int) -> Dict[str, List[str]]:
    return {"live": [n for b, n in THROTTLE_BITS.items() if flags & (1 << b)],
            "sticky": [n for b, n in THROTTLE_BITS.items() if flags & (1 << (b + 16))]}


def read_throttled() -> Optional[int]:
    text = run_argv(["vcgencmd", "get_throttled"], timeout_s=3.0) if have("vcgencmd") else None
    return parse_throttled(text) if text is not None else None


def _fan_path(root: str) -> Optional[str]:
    # hwmon index under cooling_fan is not stable (hwmon2 / hwmon3): glob it
    hits = sorted(glob.glob(under(root, "/sys/devices/platform/cooling_fan/hwmon/hwmon*/fan1_input")))
    return hits[0] if hits else None


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    if not have("vcgencmd"):
        return Unavailable(FAMILY, "power", "vcgencmd not on PATH (not a Raspberry Pi OS image)",
                           scope="rails_sum")
    adc_text = run_argv(["vcgencmd", "pmic_read_adc"], timeout_s=5.0)
    temp_text = run_argv(["vcgencmd", "measure_temp"], timeout_s=5.0)
    if adc_text is None and temp_text is None:
        return Unavailable(FAMILY, "power", "vcgencmd failed (needs /dev/vcio: run as a member of group "
                           "'video')", scope="rails_sum")
    unavailable: List[Unavailable] = []
    channels: List[Channel] = []
    rails = sorted(rail_powers_w(parse_pmic_read_adc(adc_text or "")))
    if rails:
        channels.append(Channel("pmic_rails_power", "power", "W", "vcgencmd pmic_read_adc", scope="rails_sum",
                                label=PMIC_LABEL))
        if "VDD_CORE" in rails:
            channels.append(Channel("vdd_core_power", "power", "W", "vcgencmd pmic_read_adc", scope="rail",
                                    label="VDD_CORE (SoC core rail)"))
        channels.append(Channel("ext5v_voltage", "voltage", "V", "vcgencmd pmic_read_adc EXT5V_V",
                                label="5 V input voltage (no current channel)"))
    else:
        unavailable.append(Unavailable(FAMILY, "power", "vcgencmd pmic_read_adc gave no rails (Pi 5 only); "
                                       "bind an external meter for board power", scope="rails_sum"))
    channels.append(Channel("soc_temp", "temperature", "C", "vcgencmd measure_temp"))
    channels.append(Channel("arm_clock", "clock", "MHz", "vcgencmd measure_clock arm"))
    fan = _fan_path(root)
    if fan:
        channels.append(Channel("fan_speed", "fan", "RPM", fan))

    def fetch() -> List[Optional[float]]:
        vals: List[Optional[float]] = []
        if rails:
            text = run_argv(["vcgencmd", "pmic_read_adc"], timeout_s=2.0)
            adc = parse_pmic_read_adc(text or "")
            powers = rail_powers_w(adc)
            vals.append(sum(powers[r] for r in rails) if all(r in powers for r in rails) else None)
            if "VDD_CORE" in rails:
                vals.append(powers.get("VDD_CORE"))
            vals.append(adc["volt_v"].get("EXT5V"))
        t = run_argv(["vcgencmd", "measure_temp"], timeout_s=2.0)
        vals.append(parse_measure_temp(t) if t is not None else None)
        c = run_argv(["vcgencmd", "measure_clock", "arm"], timeout_s=2.0)
        hz = parse_measure_clock(c) if c is not None else None
        vals.append(hz / 1e6 if hz is not None else None)
        if fan:
            vals.append(read_number(fan))
        return vals

    return PolledCommandPlan(FAMILY, channels, fetch, period_s=0.5, unavailable=unavailable)


def environment(root: str = "/") -> Dict[str, Any]:
    """Firmware version, model and throttle flags, for the job snapshot."""
    env: Dict[str, Any] = {}
    model = read_text(under(root, "/proc/device-tree/model"))
    env["model"] = model.strip("\x00\n ") if model else None
    fw = run_argv(["vcgencmd", "version"], timeout_s=3.0) if have("vcgencmd") else None
    env["firmware"] = " | ".join(line.strip() for line in fw.splitlines() if line.strip()) if fw else None
    flags = read_throttled()
    env["throttled"] = flags
    if flags is not None:
        env["throttled_decoded"] = decode_throttled(flags)
    return env

