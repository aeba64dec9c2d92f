"""Device profiles: every shipped profile validates, scopes are right, errors name file and key, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbench.cli.devices import devices
from benchbench.config.profiles import DEFAULT_DEVICE_DIR, list_profiles, load_profile
from benchbench.errors import ConfigError

EXPECTED = {"pi5": "rails_sum", "rk3588": None, "jetson-orin-nano": "module_input",
            "jetson-orin-nx": "module_input", "jetson-agx-orin": "rails_sum", "jetson-nano": "module_input",
            "ascend-310b": "accelerator", "ascend-910b": "accelerator", "nvidia-gpu": "gpu_board",
            "generic-linux": "cpu_package"}


def test_all_shipped_profiles_load_with_expected_headline_scope() -> None:
    profiles = {p.name: p for p in list_profiles([DEFAULT_DEVICE_DIR])}
    assert set(profiles) == set(EXPECTED)
    for name, scope in EXPECTED.items():
        h = profiles[name].effective_headline()
        assert (h.scope if h else None) == scope, name
    assert "no on-board power monitor" in (profiles["rk3588"].power_unavailable_reason or "")
    assert profiles["pi5"].headline_power.label.startswith("PMIC rails, excludes 5 V loads")  # type: ignore[union-attr]
    for p in profiles.values():
        for peak in list(p.roofline.compute.values()) + ([p.roofline.bandwidth] if p.roofline.bandwidth
                                                         else []):
            assert peak.source and peak.confidence in ("vendor", "derived", "unverified")


def _write(tmp_path: Path, text: str, name: str = "board-x") -> Path:
    path = tmp_path / (name + ".yaml")
    path.write_text(text)
    return path


def test_meter_binding_makes_wall_the_headline_and_adds_family(tmp_path: Path) -> None:
    _write(tmp_path, (DEFAULT_DEVICE_DIR / "rk3588.yaml").read_text().replace("name: rk3588", "name: board-x")
           + "meter:\n  host: 10.0.0.9\n  port: 8888\n  channel: 2\n")
    p = load_profile("board-x", [tmp_path, DEFAULT_DEVICE_DIR])
    assert p.sampler_families()[-1] == "ptdaemon@10.0.0.9:8888/ch2"
    h = p.effective_headline()
    assert h is not None and h.scope == "wall" and h.channel == "wall_ch2_power"


def test_sudo_npu_load_option_becomes_family_option(tmp_path: Path) -> None:
    _write(tmp_path, (DEFAULT_DEVICE_DIR / "rk3588.yaml").read_text().replace("name: rk3588", "name: board-x")
           .replace("sudo_npu_load: false", "sudo_npu_load: true"))
    assert load_profile(str(tmp_path / "board-x.yaml")).sampler_families()[0] == "rk3588@sudo"


@pytest.mark.parametrize("body,key", [
    ("name: board-x\ndescription: d\nsamplers: [cpufreq, bogus]\npower_unavailable_reason: none\n",
     "samplers"),
    (("name: board-x\ndescription: d\nsamplers: [cpufreq]\npower_unavailable_reason: x\n"
      "roofline:\n  compute:\n    fp32: {value: -1, unit: FLOP/s, source: s}\n"),
     "roofline.compute.fp32.value"),
    (("name: board-x\ndescription: d\nsamplers: [cpufreq]\nheadline_power: {family: cpufreq, channel: c, "
      "scope: total}\n"), "headline_power.scope"),
    (("name: board-x\ndescription: d\nsamplers: [cpufreq]\npower_unavailable_reason: x\n"
      "meter: {host: 'a b'}\n"), "meter.host"),
    ("name: board-x\ndescription: d\nsamplers: [cpufreq]\npower_unavailable_reason: x\ntypo: 1\n", "typo"),
])
def test_bad_profile_errors_name_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_profile("board-x", [tmp_path])
    assert exc.value.file == str(path) and exc.value.key == key


def test_headline_family_must_be_sampled(tmp_path: Path) -> None:
    _write(tmp_path, "name: board-x\ndescription: d\nsamplers: [cpufreq]\n"
           "headline_power: {family: rapl, channel: package_0_energy, scope: cpu_package}\n")
    with pytest.raises(ConfigError, match="not among samplers"):
        load_profile("board-x", [tmp_path])


def test_name_must_match_file_and_unknown_name_lists_known(tmp_path: Path) -> None:
    _write(tmp_path, "name: other\ndescription: d\nsamplers: [cpufreq]\npower_unavailable_reason: x\n")
    with pytest.raises(ConfigError) as exc:
        load_profile("board-x", [tmp_path])
    assert exc.value.key == "name"
    with pytest.raises(ConfigError) as exc2:
        load_profile("nope", [DEFAULT_DEVICE_DIR])
    assert "pi5" in (exc2.value.hint or "")


def test_cli_devices_list_and_show_json() -> None:
    runner = CliRunner()
    res = runner.invoke(devices, ["list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert rows["pi5"]["headline_power"]["scope"] == "rails_sum" and rows["rk3588"]["headline_power"] is None
    res = runner.invoke(devices, ["show", "jetson-orin-nano", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["effective_headline_power"]["scope"] == "module_input" and data["tuning"]["nvpmodel_id"] == 2
    res = runner.invoke(devices, ["show", "pi5"])
    assert res.exit_code == 0 and "PMIC rails" in res.output
    res = runner.invoke(devices, ["show", "nope"])
    assert res.exit_code == 2
