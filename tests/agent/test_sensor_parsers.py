"""Every raw example from boards.md through its parser; one test per format quirk."""

from __future__ import annotations

import pytest
from sensorkit import raw

from benchbench.agent.samplers import ascend, jetson, nvml, ptdaemon, rk3588, rpi, tegrastats


# --- Raspberry Pi 5 -----------------------------------------------------------------------------------
def test_pmic_read_adc_right_aligned_names_parse_all_26_channels() -> None:
    adc = rpi.parse_pmic_read_adc(raw("rpi/pmic_read_adc_pi5.txt"))
    assert len(adc["current_a"]) == 12 and len(adc["volt_v"]) == 14
    assert adc["current_a"]["VDD_CORE"] == pytest.approx(10.87674)
    assert adc["volt_v"]["3V7_WL_SW"] == pytest.approx(3.799996)


def test_pmic_rails_paired_by_name_not_line_order() -> None:
    text = raw("rpi/pmic_read_adc_pi5.txt")
    lines = text.splitlines()
    shuffled = "\n".join(reversed(lines)) + "\n"  # volts before currents, reversed order
    assert rpi.rail_powers_w(rpi.parse_pmic_read_adc(shuffled)) == \
        pytest.approx(rpi.rail_powers_w(rpi.parse_pmic_read_adc(text)))
    p = rpi.rail_powers_w(rpi.parse_pmic_read_adc(text))
    assert p["VDD_CORE"] == pytest.approx(10.87674 * 0.8974594)
    assert p["HDMI"] == pytest.approx(0.0136752 * 5.07056)


def test_pmic_ext5v_and_batt_have_no_current_so_no_power() -> None:
    p = rpi.rail_powers_w(rpi.parse_pmic_read_adc(raw("rpi/pmic_read_adc_pi5.txt")))
    assert "EXT5V" not in p and "BATT" not in p and len(p) == 12


def test_measure_clock_id_varies_parse_after_equals() -> None:
    assert rpi.parse_measure_clock(raw("rpi/measure_clock_pi3.txt")) == 1400000000  # id 45, trailing space
    assert rpi.parse_measure_clock(raw("rpi/measure_clock_arm_pi5_load.txt")) == 2400004352  # id 0
    assert rpi.parse_measure_clock(raw("rpi/measure_clock_v3d_pi5.txt")) == 0  # power-gated V3D


def test_measure_temp_trailing_space_and_quote_c() -> None:
    assert rpi.parse_measure_temp(raw("rpi/measure_temp_pi3.txt")) == pytest.approx(62.3)
    assert rpi.parse_measure_temp(raw("rpi/measure_temp_pi5_load.txt")) == pytest.approx(70.3)


def test_get_throttled_live_and_sticky_bits() -> None:
    assert rpi.parse_throttled(raw("rpi/get_throttled_pi3.txt")) == 0
    flags = rpi.parse_throttled("throttled=0x50005\n")
    assert flags == 0x50005
    dec = rpi.decode_throttled(flags)
    assert dec["live"] == ["under-voltage", "throttled"]
    assert dec["sticky"] == ["under-voltage", "throttled"]
    assert rpi.decode_throttled(0x80000) == {"live": [], "sticky": ["soft temperature limit"]}


# --- RK3588 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,expect", [
    ("npu_load_rktop.txt", [63, 65, 64]),
    ("npu_load_beszel.txt", [86, 84, 61]),
    ("npu_load_toolkit2.txt", [21, 11, 0]),
])
def test_rknpu_load_double_space_and_trailing_comma(name: str, expect: list) -> None:  # type: ignore[type-arg]
    assert rk3588.parse_npu_load(raw("rk3588/" + name)) == expect


def test_rknpu_load_unclamped_429496_is_missing_not_clamped() -> None:
    assert rk3588.parse_npu_load(raw("rk3588/npu_load_unclamped.txt")) == [99, 99, None]


def test_rknpu_load_single_core_format() -> None:
    assert rk3588.parse_npu_load(raw("rk3588/npu_load_single_core.txt")) == [25]


def test_rknpu_load_blank_core_keeps_core_positions() -> None:
    assert rk3588.parse_npu_load("NPU load:  Core0:   %, Core1: 12%, Core2:  0%,\n") == [None, 12, 0]


def test_rknpu_debugfs_dump_version_and_load() -> None:
    rows = dict(line.split(None, 1) for line in raw("rk3588/debugfs_dump.txt").splitlines())
    assert rk3588.parse_driver_version(rows["version"]) == "v0.9.8"
    assert rk3588.parse_npu_load(rows["load"]) == [0, 0, 0]


# --- Jetson / tegrastats ----------------------------------------------------------------------------------
def test_tegrastats_jp7_three_rail_values_first_is_current() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_agx_orin_jp7.txt"))
    assert rec["date"] == "07-25-2026 09:08:28"
    assert rec["rails_mw"] == {"VDD_GPU_SOC": 5139, "VDD_CPU_CV": 3268, "VIN_SYS_5V0": 5500}
    assert rec["ram_used_mb"] == 20642 and rec["ram_total_mb"] == 62817
    assert len(rec["cpu"]) == 12 and rec["cpu"][0] == (23, 2201)


def test_tegrastats_jp7_gpu_freq_array_and_slash_temps() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_agx_orin_jp7.txt"))
    assert rec["gpu_load_pct"] == 12 and rec["gpu_mhz"] == [1300, 1300]
    assert rec["temps_c"]["cpu"] == pytest.approx(52.968) and rec["temps_c"]["gpu"] == pytest.approx(47.625)
    assert rec["emc_load_pct"] == 3 and rec["emc_mhz"] == 3199


def test_tegrastats_thor_gpu_freq_without_load() -> None:
    rec = tegrastats.parse_line("RAM 1/2MB GR3D_FREQ @[1000,1000,1000] VDD_GPU 100mW/100mW/100mW")
    assert rec["gpu_load_pct"] is None and rec["gpu_mhz"] == [1000, 1000, 1000]


def test_tegrastats_jp6_single_gpc_bracket_and_vdd_in_is_module_input() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_orin_nano_jp6.txt"))
    assert rec["gpu_load_pct"] == 0 and rec["gpu_mhz"] == [305]
    assert rec["rails_mw"] == {"VDD_IN": 5704, "VDD_CPU_GPU_CV": 831, "VDD_SOC": 1624}
    assert tegrastats.headline(sorted(rec["rails_mw"]))[:2] == ("VDD_IN", "module_input")
    assert rec["ram_used_mb"] == 2461 and rec["temps_c"]["tj"] == pytest.approx(48.843)


def test_tegrastats_jp6_plain_gpu_freq_form() -> None:
    rec = tegrastats.parse_line("06-01-2025 10:00:00 RAM 1/2MB GR3D_FREQ 10%@1300 VDD_IN 1mW/1mW")
    assert rec["gpu_load_pct"] == 10 and rec["gpu_mhz"] == [1300]


def test_tegrastats_jp5_offline_minus_256_and_nc_rails_skipped() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_agx_orin_jp5.txt"))
    assert rec["temps_c"]["CV0"] is None and rec["temps_c"]["GPU"] is None
    assert rec["temps_c"]["CPU"] == pytest.approx(41.437)
    assert rec["rails_mw"] == {"VDD_GPU_SOC": 2390, "VDD_CPU_CV": 796, "VIN_SYS_5V0": 3522,
                               "VDDQ_VDD2_1V8AO": 301}
    assert tegrastats.headline(sorted(rec["rails_mw"]))[1] == "rails_sum"  # AGX Orin: no VDD_IN
    assert rec["cpu"] == []  # "[...]" abbreviated in the source


def test_tegrastats_jp4_rails_without_units_and_pom_5v_in() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_nano_jp4.txt"))
    assert rec["date"] is None
    assert rec["rails_mw"] == {"POM_5V_IN": 933, "POM_5V_GPU": 0, "POM_5V_CPU": 84}
    assert tegrastats.headline(sorted(rec["rails_mw"]))[:2] == ("POM_5V_IN", "module_input")
    assert rec["temps_c"]["PMIC"] == 100 and rec["temps_c"]["thermal"] == 23
    assert rec["gpu_load_pct"] is None and rec["gpu_mhz"] == [76]  # "$RAND_GPU" emulator placeholder
    assert rec["ram_used_mb"] == 331  # RAM/SWAP/IRAM are not rails


def test_tegrastats_xavier_unitless_rails_summed() -> None:
    rec = tegrastats.parse_line(raw("jetson/tegrastats_agx_xavier.txt"))
    assert rec["rails_mw"] == {"GPU": 1155, "CPU": 385, "SOC": 2502, "CV": 0, "VDDRQ": 192, "SYS5V": 2692}
    assert tegrastats.headline(sorted(rec["rails_mw"]))[1] == "rails_sum"
    assert rec["temps_c"]["Tdiode"] == pytest.approx(31.25)


def test_tegrastats_non_root_emc_without_freq() -> None:
    rec = tegrastats.parse_line("RAM 1/2MB EMC_FREQ 0% GR3D_FREQ 0% VDD_IN 10mW/10mW")
    assert rec["emc_load_pct"] == 0 and rec["emc_mhz"] is None and rec["gpu_load_pct"] == 0


def test_nvpmodel_q_warning_line_before_mode() -> None:
    assert jetson.parse_nvpmodel(raw("jetson/nvpmodel_q.txt")) == {"mode_name": "MAXN", "mode_id": 0}


def test_jetson_clocks_show_cpu_line() -> None:
    out = jetson.parse_jetson_clocks(raw("jetson/jetson_clocks_show.txt"))
    assert out["soc_family"] == "tegra234" and out["machine"].startswith("NVIDIA Orin")
    assert out["cpus"]["cpu0"] == {"online": True, "governor": "schedutil", "min_khz": 115200,
                                   "max_khz": 2201600, "cur_khz": 2112000}


def test_l4t_release_line() -> None:
    assert jetson.parse_l4t_release("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref\n") == \
        "R35.4.1"


# --- Ascend -----------------------------------------------------------------------------------------------
def test_npu_smi_910_two_die_dash_power_and_hbm_column() -> None:
    chips = ascend.parse_info(raw("ascend/npu_smi_info_910_two_die.txt"))["chips"]
    assert [(c["npu"], c["chip"]) for c in chips] == [(0, 0), (0, 1)]
    assert chips[0]["power_w"] == pytest.approx(178.5) and chips[1]["power_raw"] == "-"
    assert chips[1]["power_w"] is None
    assert chips[0]["hbm_used_mb"] == 3416 and chips[0]["hbm_total_mb"] == 65536
    assert chips[1]["bus_id"] == "0000:9F:00.0" and chips[0]["temp_c"] == 36


def test_npu_smi_310p_na_power() -> None:
    (chip,) = ascend.parse_info(raw("ascend/npu_smi_info_310p3.txt"))["chips"]
    assert chip["name"] == "310P3" and chip["power_raw"] == "NA" and chip["power_w"] is None
    assert chip["mem_used_mb"] == 1529 and chip["mem_total_mb"] == 44280 and chip["hbm_total_mb"] is None


@pytest.mark.parametrize("name,power,mem", [("npu_smi_info_310b4_a.txt", 7.7, (2166, 3513)),
                                            ("npu_smi_info_310b4_b.txt", 7.4, (1331, 3514))])
def test_npu_smi_310b_narrow_and_wide_columns_bus_na(name: str, power: float, mem: tuple) -> None:  # type: ignore[type-arg]
    (chip,) = ascend.parse_info(raw("ascend/" + name))["chips"]
    assert chip["power_w"] == pytest.approx(power) and chip["bus_id"] is None
    assert (chip["mem_used_mb"], chip["mem_total_mb"]) == mem


def test_npu_smi_zero_watts_with_alarm_is_missing_not_zero() -> None:
    (chip,) = ascend.parse_info(raw("ascend/npu_smi_info_310b4_alarm.txt"))["chips"]
    assert chip["health"] == "Alarm" and chip["power_raw"] == "0.0" and chip["power_w"] is None
    healthy = raw("ascend/npu_smi_info_310b4_alarm.txt").replace("Alarm", "OK   ")
    assert ascend.parse_info(healthy)["chips"][0]["power_w"] == 0.0


def test_npu_smi_health_wrapped_error_information() -> None:
    kv = ascend.parse_kv(raw("ascend/npu_smi_health_alarm.txt"))
    assert kv["Health Status"] == "Alarm" and kv["Error Code"] == "80E3A203"
    assert kv["Error Information"].endswith("event state=The function of obtaining the current is abnormal")


@pytest.mark.parametrize("name,watts,key", [
    ("npu_smi_power_950.txt", 296.5, "NPU Real-time Power(W)"),
    ("npu_smi_power_realtime_tab.txt", 296.5, "NPU Real-time Power(W)"),
    ("npu_smi_power_mcu.txt", 12.3, "Power Dissipation(W)"),
    ("npu_smi_power_rated_310.txt", 8.0, "Rated Power Dissipation(W)"),
])
def test_npu_smi_t_power_three_label_variants(name: str, watts: float, key: str) -> None:
    assert ascend.power_from_kv(ascend.parse_kv(raw("ascend/" + name))) == (watts, key)


def test_npu_smi_t_usages_key_value() -> None:
    kv = ascend.parse_kv("\tHBM Capacity(MB)               : 65536\n\tAicore Usage Rate(%)           : 37\n"
                         "\tNPU Utilization(%)             : 40\n")
    assert ascend.usages_from_kv(kv) == {"HBM Capacity(MB)": 65536, "Aicore Usage Rate(%)": 37,
                                         "NPU Utilization(%)": 40}


# --- NVIDIA -------------------------------------------------------------------------------------------------
def test_nvidia_smi_csv_units_and_canonical_header() -> None:
    (row,) = nvml.parse_csv(raw("nvidia/nvidia_smi_csv_units.txt"))
    assert row["power.draw"] == {"raw": "131.17 W", "value": 131.17, "unit": "W"}
    assert row["clocks.current.graphics"]["value"] == 1708 and row["clocks.current.memory"]["unit"] == "MHz"
    assert row["fan.speed"]["value"] == 70 and row["name"]["value"] is None


def test_nvidia_smi_csv_na_and_not_supported_are_missing() -> None:
    (row,) = nvml.parse_csv(raw("nvidia/nvidia_smi_csv_na.txt"))
    assert row["power.draw"]["value"] is None and row["memory.used"]["value"] is None
    assert row["clocks.current.sm"]["value"] is None


def test_nvidia_clock_event_reasons_hex_bitmask() -> None:
    assert nvml.parse_cell("0x0000000000000044") == 0x44
    assert nvml.reasons(0x44) == ["SwPowerCap", "HwThermalSlowdown"]
    assert nvml.reasons(0x1) == []  # GpuIdle is not throttling


# --- PTDaemon ---------------------------------------------------------------------------------------------
def test_ptd_spl_lines_dd_mm_yyyy() -> None:
    recs = ptdaemon.parse_log(raw("ptd/spl.txt"))
    assert [r["watts"] for r in recs] == [22.95, 23.08]
    assert recs[0]["mark"] == "2020-12-28_15-20-52_mylabel_testing"
    assert recs[1]["epoch_s"] - recs[0]["epoch_s"] == pytest.approx(1.004)


def test_ptd_notice_and_error_lines_are_skipped() -> None:
    recs = ptdaemon.parse_log(raw("ptd/log_mixed.txt"))
    assert len(recs) == 2 and recs[0]["watts"] == 22.97


def test_ptd_mm_dd_yyyy_resolved_by_field_over_12() -> None:
    recs = ptdaemon.parse_log(raw("ptd/log_mixed.txt"))
    assert recs[0]["epoch_s"] is not None  # 01-22-2021: 22 > 12 → MM-DD
    dmy = ptdaemon.parse_sample_line(raw("ptd/spl.txt").splitlines()[0])
    assert dmy is not None and dmy["epoch_s"] is not None  # 28-12-2020 → DD-MM


def test_ptd_ambiguous_date_needs_mark_or_order() -> None:
    line = "Time,11-07-2020 17:49:06.145,Watts,1.0,Volts,1.0,Amps,1.0,PF,1.0,Mark,notset"
    assert ptdaemon.parse_sample_line(line)["epoch_s"] is None  # type: ignore[index]
    dmy = ptdaemon.parse_sample_line(line, order="DMY")["epoch_s"]  # type: ignore[index]
    mdy = ptdaemon.parse_sample_line(line, order="MDY")["epoch_s"]  # type: ignore[index]
    assert abs(dmy - mdy) > 86400 * 100
    marked = line.replace("notset", "2020-07-11_17-49-00_x")
    assert ptdaemon.parse_sample_line(marked)["epoch_s"] == pytest.approx(dmy)  # type: ignore[index]


def test_ptd_multichannel_sum_minus_one_and_channels() -> None:
    rec = ptdaemon.parse_log(raw("ptd/log_mixed.txt"))[1]
    assert rec["watts"] == pytest.approx(272.93) and rec["volts"] is None and rec["pf"] is None
    assert sorted(rec["channels"]) == [1, 2, 3]
    assert rec["channels"][2] == {"watts": 90.97, "volts": 120.83, "amps": 0.802, "pf": 0.9388}


def test_ptd_binding_parse() -> None:
    assert ptdaemon.parse_binding("10.0.0.5:8888/ch2") == ("10.0.0.5", 8888, 2)
    assert ptdaemon.parse_binding("meter") == ("meter", 8888, None)
