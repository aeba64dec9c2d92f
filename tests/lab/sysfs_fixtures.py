"""Sysfs/procfs fixture trees for emulated boards, written under a given root so samplers are tested with
``probe(root=tmp_path)``. Paths, file names and units follow boards.md (one value per file, trailing
newline, hwmon indices deliberately not 0 so nothing can rely on them). Values come from its raw examples.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PathLike = str | Path


def put(root: PathLike, path: str, value: object) -> Path:
    """Write ``value`` + newline at ``root``/``path`` (path as on the board), creating directories."""
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{value}\n")
    return p


def link(root: PathLike, path: str, target: str) -> None:
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        # relative, as sysfs's own links are: it resolves the same under probe(root=...) and when the tree
        # is bind-mounted over /sys on a lab board
        os.symlink(os.path.relpath(Path(root) / target.lstrip("/"), p.parent), p)


def device_tree(root: PathLike, model: str, compatible: Iterable[str]) -> None:
    """Device-tree ``model`` and ``compatible`` as the kernel exposes them: NUL-terminated strings (a
    NUL-separated list), at their sysfs home (``/proc/device-tree`` links there), so a tree bind-mounted
    over ``/sys`` carries them. Strings from the upstream dts files of each board."""
    base = Path(root) / "sys/firmware/devicetree/base"
    base.mkdir(parents=True, exist_ok=True)
    (base / "model").write_bytes(model.encode() + b"\0")
    (base / "compatible").write_bytes(b"".join(c.encode() + b"\0" for c in compatible))


def thermal_zones(root: PathLike, zones: Iterable[tuple[str, int]]) -> None:
    """``zones``: (type, millidegrees) in zone order."""
    for i, (ztype, mc) in enumerate(zones):
        put(root, f"/sys/class/thermal/thermal_zone{i}/type", ztype)
        put(root, f"/sys/class/thermal/thermal_zone{i}/temp", mc)


def cpufreq(root: PathLike, policies: dict[int, tuple[int, int]], governor: str = "schedutil") -> None:
    """``policies``: policy number → (cur kHz, max kHz)."""
    for n, (cur, mx) in policies.items():
        base = f"/sys/devices/system/cpu/cpufreq/policy{n}/"
        put(root, base + "scaling_cur_freq", cur)
        put(root, base + "cpuinfo_max_freq", mx)
        put(root, base + "scaling_max_freq", mx)
        put(root, base + "scaling_governor", governor)


def set_clock(root: PathLike, policy: int, khz: int) -> None:
    put(root, f"/sys/devices/system/cpu/cpufreq/policy{policy}/scaling_cur_freq", khz)


def meminfo(root: PathLike, total_kb: int = 7803040, avail_kb: int = 5120000) -> None:
    put(root, "/proc/meminfo",
        f"MemTotal:       {total_kb} kB\nMemFree:        1000000 kB\nMemAvailable:   {avail_kb} kB")


def _ina3221(root: PathLike, dev: str, hwmon: str, rails: dict[int, tuple[str, int, int]]) -> str:
    """One INA3221 at i2c ``dev`` with hwmon dir ``hwmon``; rails: channel → (label, mV, mA)."""
    base = f"/sys/bus/i2c/devices/{dev}/hwmon/{hwmon}/"
    put(root, f"/sys/bus/i2c/devices/{dev}/name", "ina3221")
    put(root, base + "name", "ina3221")
    for k, (label, mv, ma) in rails.items():
        put(root, base + f"in{k}_label", label)
        put(root, base + f"in{k}_input", mv)
        put(root, base + f"curr{k}_input", ma)
        put(root, base + f"curr{k}_max", 7784)
        put(root, base + f"shunt{k}_resistor", 5000)
    put(root, base + "in7_label", "sum of shunt voltages")
    put(root, base + "in7_input", 120)
    put(root, base + "curr4_input", 700)  # the sum channel's current: must be skipped via its in7 label
    put(root, base + "update_interval", 2)
    link(root, "/sys/class/hwmon/" + hwmon, base)
    return base


def jetson_orin_nano(root: PathLike, vdd_in: tuple[int, int] = (5000, 1140)) -> str:
    """Orin Nano/NX (p3767), JetPack 6: INA3221 @0x40 VDD_IN / VDD_CPU_GPU_CV / VDD_SOC. Returns the
    hwmon dir (for the rail simulator)."""
    base = _ina3221(root, "1-0040", "hwmon3", {1: ("VDD_IN", vdd_in[0], vdd_in[1]),
                                               2: ("VDD_CPU_GPU_CV", 5000, 166), 3: ("VDD_SOC", 5000, 325)})
    put(root, "/sys/devices/platform/bus@0/17000000.gpu/load", 120)  # per-mille
    put(root, "/sys/class/devfreq/17000000.gpu/cur_freq", 305000000)
    put(root, "/sys/class/devfreq/17000000.gpu/device/of_node/name", "gpu")
    thermal_zones(root, [("cpu-thermal", 46531), ("gpu-thermal", 48218), ("cv0-thermal", -256000),
                         ("tj-thermal", 48843)])
    cpufreq(root, {0: (729600, 1510400)})
    put(root, "/etc/nv_tegra_release", "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, "
        "EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025")
    put(root, "/proc/device-tree/model", "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super")
    device_tree(root, "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
                ["nvidia,p3768-0000+p3767-0005-super", "nvidia,tegra234"])
    return base


def jetson_agx_orin(root: PathLike) -> None:
    """AGX Orin (p3701): no VDD_IN; @0x41 has NC channels (NVIDIA BSP)."""
    _ina3221(root, "1-0040", "hwmon2", {1: ("VDD_GPU_SOC", 5000, 478), 2: ("VDD_CPU_CV", 5000, 159),
                                        3: ("VIN_SYS_5V0", 5000, 704)})
    _ina3221(root, "1-0041", "hwmon4", {1: ("NC", 0, 0), 2: ("VDDQ_VDD2_1V8AO", 5000, 60), 3: ("NC", 0, 0)})
    put(root, "/sys/devices/platform/gpu.0/load", 0)
    thermal_zones(root, [("cpu-thermal", 41437), ("gpu-thermal", -256000)])
    device_tree(root, "Jetson AGX Orin Developer Kit", ["nvidia,p3737-0000+p3701-0000", "nvidia,p3701-0000",
                                                        "nvidia,tegra234"])


def jetson_nano_jp4(root: PathLike) -> None:
    """Jetson Nano, JetPack 4: ina3221x IIO, in_power<n>_input in mW (POM_5V_IN 933 mW as in tegrastats)."""
    base = "/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/"
    for n, (name, mw) in enumerate((("POM_5V_IN", 933), ("POM_5V_GPU", 0), ("POM_5V_CPU", 84))):
        put(root, base + f"rail_name_{n}", name)
        put(root, base + f"in_power{n}_input", mw)
        put(root, base + f"in_voltage{n}_input", 5000)
    put(root, "/sys/devices/gpu.0/load", 0)
    put(root, "/sys/devices/57000000.gpu/load", 0)
    thermal_zones(root, [("AO-therm", 27500), ("CPU-therm", 23500), ("GPU-therm", 22500),
                         ("PLL-therm", 20500), ("PMIC-Die", 100000), ("thermal-fan-est", 23000)])
    device_tree(root, "NVIDIA Jetson Nano Developer Kit", ["nvidia,p3450-0000", "nvidia,jetson-nano",
                                                           "nvidia,tegra210"])


def pi5(root: PathLike, arm_khz: int = 2400000) -> None:
    thermal_zones(root, [("cpu-thermal", 70300)])
    cpufreq(root, {0: (arm_khz, 2400000)}, governor="ondemand")
    put(root, "/sys/devices/platform/cooling_fan/hwmon/hwmon3/fan1_input", 2932)
    put(root, "/sys/devices/platform/cooling_fan/hwmon/hwmon3/pwm1", 102)
    put(root, "/proc/device-tree/model", "Raspberry Pi 5 Model B Rev 1.0")
    device_tree(root, "Raspberry Pi 5 Model B Rev 1.0", ["raspberrypi,5-model-b", "brcm,bcm2712"])


def rk3588(root: PathLike, vendor: bool = True, npu_load: str | None = None, debugfs: bool = True) -> None:
    """Orange Pi 5 / Rock 5B. ``vendor`` picks the vendor-kernel zone names and the rknpu debugfs."""
    names = (("soc-thermal", "bigcore0-thermal", "bigcore1-thermal", "littlecore-thermal", "center-thermal",
              "gpu-thermal", "npu-thermal") if vendor else
             ("package-thermal", "bigcore0-thermal", "bigcore2-thermal", "littlecore-thermal",
              "center-thermal", "gpu-thermal", "npu-thermal"))
    thermal_zones(root, [(n, 40000 + 500 * i) for i, n in enumerate(names)])
    device_tree(root, "Orange Pi 5", ["xunlong,orangepi-5", "rockchip,rk3588s"])
    cpufreq(root, {0: (408000, 1800000), 4: (408000, 2400000), 6: (408000, 2400000)}, governor="ondemand")
    for dev, hz, gov in (("fdab0000.npu", 1000000000, "rknpu_ondemand"), ("fb000000.gpu", 300000000,
                                                                         "simple_ondemand"),
                         ("dmc", 528000000, "dmc_ondemand")):
        put(root, f"/sys/class/devfreq/{dev}/cur_freq", hz)
        put(root, f"/sys/class/devfreq/{dev}/governor", gov)
    if vendor and debugfs:
        d = "/sys/kernel/debug/rknpu/"
        put(root, d + "version", "RKNPU driver: v0.9.8")
        (Path(root) / (d + "load").lstrip("/")).write_text(
            npu_load if npu_load is not None else "NPU load:  Core0: 63%, Core1: 65%, Core2: 64%,\n")
        put(root, d + "power", "off")
        put(root, d + "freq", 1000000000)
        put(root, d + "volt", 825000)
        put(root, d + "delayms", 3000)


def rapl(root: PathLike, energy_uj: int = 26963529117, max_uj: int = 262143328850) -> str:
    """powercap package-0 (MangoHud #1776 values) plus the dram sub-zone (thermal_daemon #45)."""
    base = "/sys/class/powercap/intel-rapl:0/"
    put(root, base + "name", "package-0")
    put(root, base + "energy_uj", energy_uj)
    put(root, base + "max_energy_range_uj", max_uj)
    put(root, "/sys/class/powercap/intel-rapl:0:2/name", "dram")
    put(root, "/sys/class/powercap/intel-rapl:0:2/energy_uj", 2469474853)
    put(root, "/sys/class/powercap/intel-rapl:0:2/max_energy_range_uj", 262143999938)
    return str(Path(root) / base.lstrip("/") / "energy_uj")


def ina219(root: PathLike) -> None:
    """ina2xx hwmon with the nut #2960 values: 4228 mV, 176000 µW, -40 mA."""
    base = "/sys/class/hwmon/hwmon2/"
    put(root, base + "name", "ina219")
    for f, v in (("in0_input", -4), ("in1_input", 4228), ("power1_input", 176000), ("curr1_input", -40),
                 ("shunt_resistor", 100000)):
        put(root, base + f, v)
