"""Sensor families probed on emulated boards: sysfs fixture trees (probe(root=tmp_path)) and the lab's
fake vendor tools on PATH. Checks names, scopes, units and the values read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lab import sysfs_fixtures as fx
from lab.fake_ptd import FakePtd

from benchbench.agent.samplers import (
    Plan,
    Unavailable,
    ascend,
    jetson,
    nvml,
    probe_all,
    ptdaemon,
    rapl,
    rk3588,
    rpi,
)
from benchbench.agent.samplers.base import Channel
from benchbench.agent.samplers.session import SamplingSession, summarise_channel


def _plan(res: Any) -> Plan:
    assert isinstance(res, Plan), res
    return res


def _by_name(plan: Plan) -> dict[str, Channel]:
    return {c.name: c for c in plan.channels}


def _read_fresh(plan: Plan, timeout_s: float = 10.0) -> list[Any]:
    """First read that carries values (command-backed plans hand out values only when fresh)."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            vals = plan.read()
            if any(v is not None for v in vals):
                return vals
            time.sleep(0.02)
    finally:
        plan.close()
    raise AssertionError(f"no fresh values from {plan.family}")


def _state(tmp_path: Path, **kv: Any) -> str:
    p = tmp_path / "board_state.json"
    p.write_text(json.dumps(kv))
    return str(p)


# --- Jetson -------------------------------------------------------------------------------------------------
def test_jetson_orin_nano_vdd_in_is_module_input_headline(tmp_path: Path) -> None:
    fx.jetson_orin_nano(tmp_path)
    plan = _plan(jetson.probe(str(tmp_path)))
    ch = _by_name(plan)
    head = plan.channels[0]
    assert head.name == "jetson_total_power" and head.scope == "module_input" and head.unit == "W"
    assert "VDD_IN" in (head.label or "")
    assert {"vdd_in_power", "vdd_cpu_gpu_cv_power", "vdd_soc_power"} <= set(ch)
    assert all(c.scope == "rail" for n, c in ch.items() if n.startswith("vdd_"))
    vals = dict(zip(ch, plan.read()))
    assert vals["jetson_total_power"] == pytest.approx(5.0 * 1.14)
    assert vals["vdd_in_power"] == pytest.approx(5.7)
    assert vals["gpu_load"] == pytest.approx(12.0) and vals["gpu_clock"] == pytest.approx(305.0)
    assert vals["cv0_thermal_temp"] is None  # -256 °C: zone offline
    assert vals["tj_thermal_temp"] == pytest.approx(48.843)


def test_jetson_sum_of_shunt_channel_skipped(tmp_path: Path) -> None:
    fx.jetson_orin_nano(tmp_path)
    names = [c.label for c in _plan(jetson.probe(str(tmp_path))).channels if c.quantity == "power"]
    assert not any("shunt" in (n or "") for n in names) and len(names) == 4  # headline + 3 rails


def test_jetson_agx_orin_rails_sum_skips_nc(tmp_path: Path) -> None:
    fx.jetson_agx_orin(tmp_path)
    plan = _plan(jetson.probe(str(tmp_path)))
    head = plan.channels[0]
    assert head.scope == "rails_sum"
    rails = [c.label for c in plan.channels[1:] if c.quantity == "power"]
    assert sorted(rails) == ["VDDQ_VDD2_1V8AO", "VDD_CPU_CV", "VDD_GPU_SOC", "VIN_SYS_5V0"]
    vals = plan.read()
    assert vals[0] == pytest.approx(5.0 * (0.478 + 0.159 + 0.704 + 0.060))


def test_jetson_nano_jp4_iio_in_power_mw(tmp_path: Path) -> None:
    fx.jetson_nano_jp4(tmp_path)
    plan = _plan(jetson.probe(str(tmp_path)))
    assert plan.channels[0].scope == "module_input" and "POM_5V_IN" in (plan.channels[0].label or "")
    assert plan.read()[0] == pytest.approx(0.933)


def test_jetson_tegrastats_fallback_when_no_ina3221(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fake_tools("jetson", FAKE_BOARD_STATE=_state(tmp_path, vdd_in_mw=6100))
    plan = _plan(jetson.probe(str(tmp_path)))
    assert plan.family == "tegrastats"
    ch = list(_by_name(plan))
    vals = dict(zip(ch, _read_fresh(plan)))
    assert plan.channels[0].scope == "module_input"
    assert vals["jetson_total_power"] == pytest.approx(6.1) and vals["gpu_clock"] == 305


def test_jetson_environment_nvpmodel_and_l4t(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fx.jetson_orin_nano(tmp_path)
    fake_tools("jetson")
    env = jetson.environment(str(tmp_path))
    assert env["l4t"] == "R36.4.3" and env["nvpmodel"] == {"mode_name": "MAXN_SUPER", "mode_id": 2}
    assert env["jetson_clocks"]["soc_family"] == "tegra234"


# --- Raspberry Pi 5 -----------------------------------------------------------------------------------------
def test_pi5_pmic_rails_sum_scope_and_label(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fx.pi5(tmp_path)
    fake_tools("rpi")
    plan = _plan(rpi.probe(str(tmp_path)))
    ch = _by_name(plan)
    assert ch["pmic_rails_power"].scope == "rails_sum"
    assert ch["pmic_rails_power"].label == "PMIC rails, excludes 5 V loads"
    vals = dict(zip(ch, _read_fresh(plan)))
    assert vals["soc_temp"] == pytest.approx(70.3) and vals["arm_clock"] == pytest.approx(2400.004352)
    assert vals["vdd_core_power"] == pytest.approx(10.87674 * 0.8974594)
    assert 10 < vals["pmic_rails_power"] < 12 and vals["ext5v_voltage"] == pytest.approx(5.06788)
    assert vals["fan_speed"] == 2932


def test_pi_without_vcgencmd_is_unavailable_with_reason(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    res = rpi.probe(str(tmp_path))
    assert isinstance(res, Unavailable) and "vcgencmd" in res.reason and res.scope == "rails_sum"


# --- RK3588 -------------------------------------------------------------------------------------------------
def test_rk3588_no_power_sensor_is_unavailable_with_reason(tmp_path: Path) -> None:
    fx.rk3588(tmp_path)
    plan = _plan(rk3588.probe(str(tmp_path)))
    assert not [c for c in plan.channels if c.quantity == "power"]
    (why,) = [u for u in plan.unavailable if u.quantity == "power"]
    assert "no on-board power monitor" in why.reason and "external meter" in why.reason


def test_rk3588_vendor_zone_names_clusters_devfreq_and_npu_load(tmp_path: Path) -> None:
    fx.rk3588(tmp_path, vendor=True)
    plan = _plan(rk3588.probe(str(tmp_path)))
    vals = dict(zip([c.name for c in plan.channels], plan.read()))
    assert {"soc_temp", "bigcore1_temp", "npu_temp"} <= set(vals)
    assert vals["cpu_a55_clock"] == 408 and vals["cpu_a76_1_clock"] == 408
    assert vals["npu_clock"] == 1000 and vals["dmc_clock"] == 528 and vals["gpu_clock"] == 300
    assert [vals[f"npu_core{i}_load"] for i in range(3)] == [63, 65, 64]
    assert vals["npu_voltage"] == pytest.approx(0.825)
    assert rk3588.environment(str(tmp_path))["rknpu_driver"] == "v0.9.8"


def test_rk3588_mainline_zone_names(tmp_path: Path) -> None:
    fx.rk3588(tmp_path, vendor=False)
    plan = _plan(rk3588.probe(str(tmp_path)))
    names = {c.name for c in plan.channels}
    assert {"package_temp", "bigcore2_temp"} <= names and not any("npu_core" in n for n in names)
    assert any(u.quantity == "load" and "root-only" in u.reason for u in plan.unavailable)


def test_rk3588_unclamped_npu_load_read_as_missing(tmp_path: Path) -> None:
    fx.rk3588(tmp_path, npu_load="NPU load:  Core0: 99%, Core1: 99%, Core2: 429496%\n")
    plan = _plan(rk3588.probe(str(tmp_path)))
    vals = dict(zip([c.name for c in plan.channels], plan.read()))
    assert vals["npu_core2_load"] is None and vals["npu_core0_load"] == 99


def test_rk3588_ina2xx_hwmon_gives_board_power(tmp_path: Path) -> None:
    fx.rk3588(tmp_path)
    fx.ina219(tmp_path)
    plan = _plan(rk3588.probe(str(tmp_path)))
    vals = dict(zip([c.name for c in plan.channels], plan.read()))
    assert vals["board_power"] == pytest.approx(0.176)
    assert _by_name(plan)["board_power"].scope == "board_input"


# --- Ascend -------------------------------------------------------------------------------------------------
def test_ascend_310b_accelerator_scope(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fake_tools("ascend", FAKE_BOARD_STATE=_state(tmp_path, power_w=7.4, aicore_pct=35))
    plan = _plan(ascend.probe(str(tmp_path)))
    ch = _by_name(plan)
    assert ch["npu0_chip0_power"].scope == "accelerator"
    vals = dict(zip(ch, _read_fresh(plan)))
    assert vals["npu0_chip0_power"] == pytest.approx(7.4) and vals["npu0_chip0_aicore_load"] == 35
    assert vals["npu0_chip0_memory_used"] == 1331 * 1048576


def test_ascend_alarm_zero_watts_read_as_missing(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fake_tools("ascend", FAKE_BOARD_STATE=_state(tmp_path, health="Alarm"))
    plan = _plan(ascend.probe(str(tmp_path)))
    vals = dict(zip([c.name for c in plan.channels], _read_fresh(plan)))
    assert vals["npu0_chip0_power"] is None and vals["npu0_chip0_temp"] == 52
    env = ascend.environment(str(tmp_path))
    assert env["npu_smi"] == "23.0.rc1" and env["health"]["npu0_chip0"]["error_code"] == "80E3A203"


def test_ascend_910_two_die_power_on_first_die_hbm_memory(tmp_path: Path,
                                                          fake_tools: Callable[..., Path]) -> None:
    fake_tools("ascend", FAKE_BOARD_STATE=_state(tmp_path, model="910", power_w=178.5))
    plan = _plan(ascend.probe(str(tmp_path)))
    ch = _by_name(plan)
    assert "npu0_chip1_power" not in ch and "both dies" in (ch["npu0_chip0_power"].label or "")
    vals = dict(zip(ch, _read_fresh(plan)))
    assert vals["npu0_chip0_power"] == pytest.approx(178.5)
    assert vals["npu0_chip1_memory_used"] == 3195 * 1048576  # HBM column, not the forced 0/0


# --- NVIDIA -------------------------------------------------------------------------------------------------
def test_nvidia_smi_fallback_units_and_na(tmp_path: Path, fake_tools: Callable[..., Path]) -> None:
    fake_tools("nvidia", FAKE_BOARD_STATE=_state(tmp_path, power_w=None, reasons=0x4))
    plan = _plan(nvml.probe(str(tmp_path)))
    ch = _by_name(plan)
    assert ch["gpu0_power"].scope == "gpu_board"
    assert any("pynvml" in u.reason or "NVML" in u.reason for u in plan.unavailable)
    vals = dict(zip(ch, _read_fresh(plan)))
    assert vals["gpu0_power"] is None  # [N/A]
    assert vals["gpu0_sm_clock"] == 1708 and vals["gpu0_memory_used"] == 1024 * 1048576
    assert vals["gpu0_clock_event_reasons"] == 4


# --- RAPL ---------------------------------------------------------------------------------------------------
def test_rapl_package_scope_and_wrap_range(tmp_path: Path) -> None:
    fx.rapl(tmp_path)
    plan = _plan(rapl.probe(str(tmp_path)))
    ch = _by_name(plan)
    assert ch["package_0_energy"].scope == "cpu_package" and ch["dram_energy"].scope == "rail"
    assert ch["package_0_energy"].wrap_at == pytest.approx(262143.32885)
    assert plan.read()[0] == pytest.approx(26963.529117)


def test_rapl_energy_counter_wrap_difference(tmp_path: Path) -> None:
    ch = Channel("package_0_energy", "energy", "J", "x", scope="cpu_package", wrap_at=262143.32885)
    ts = [0, 1_000_000_000, 2_000_000_000]
    vs = [262143.0, 10.0, 40.0]  # wrapped between the first two samples
    res = summarise_channel(ch, ts, vs, [(0, 2_000_000_000)])
    assert res["energy_j"] == pytest.approx(262143.32885 - 262143.0 + 10.0 + 30.0)


def test_rapl_root_only_reason(tmp_path: Path) -> None:
    # an energy_uj that cannot be read (a directory here: permission bits do not stop root, which CI is)
    for dom in ("intel-rapl:0", "intel-rapl:0:2"):
        fx.put(tmp_path, f"/sys/class/powercap/{dom}/name", "package-0")
        (tmp_path / (f"sys/class/powercap/{dom}/energy_uj")).mkdir(parents=True)
    res = rapl.probe(str(tmp_path))
    assert isinstance(res, Unavailable) and "root-only since Linux 5.10" in res.reason
    assert res.scope == "cpu_package"


# --- PTDaemon -----------------------------------------------------------------------------------------------
def test_ptdaemon_wall_power_from_fake_meter(tmp_path: Path) -> None:
    ptd = FakePtd(watts=lambda t: 42.5)
    try:
        plans, _ = probe_all([f"ptdaemon@127.0.0.1:{ptd.port}"], str(tmp_path))
        (plan,) = plans
        assert plan.channels[0].scope == "wall" and "WT310" in (plan.channels[0].label or "")
        session = SamplingSession(plans, 0.02)
        ptd_period = plan.period_ms = 100  # type: ignore[attr-defined]
        session.start()
        time.sleep(0.6)
        session.stop()
        vals = [v for v in session.values[0] if v is not None]
        assert vals and all(v == pytest.approx(42.5) for v in vals)
        assert len(vals) <= 0.6 / (ptd_period / 1000) + 1  # each meter sample handed over once
        assert ptd.commands[:2] == ["Hello", "Identify"] and "Stop" in ptd.commands
        assert any(c.startswith("Go,100,0,") for c in ptd.commands)
    finally:
        ptd.close()


def test_ptdaemon_multichannel_binding_picks_channel(tmp_path: Path) -> None:
    ptd = FakePtd(watts=lambda t: 90.0, channels=3)
    try:
        plan = _plan(ptdaemon.probe(str(tmp_path), f"127.0.0.1:{ptd.port}/ch2"))
        plan.period_ms = 100  # type: ignore[attr-defined]
        assert plan.channels[0].name == "wall_ch2_power"
        assert _read_fresh(plan)[0] == pytest.approx(30.0)
        assert any("NOTICE" in line for line in ptd.log)
    finally:
        ptd.close()


def test_ptdaemon_unreachable_is_unavailable(tmp_path: Path) -> None:
    from lab.fake_ptd import free_port
    res = ptdaemon.probe(str(tmp_path), f"127.0.0.1:{free_port()}")
    assert isinstance(res, Unavailable) and res.scope == "wall" and "cannot reach" in res.reason
    assert isinstance(ptdaemon.probe(str(tmp_path)), Unavailable)
