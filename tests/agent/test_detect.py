"""Board recognition (issue #10 item 5) against real-format fixtures under a probe root: device-tree
``model``/``compatible`` (NUL-terminated, as the kernel exposes them), the L4T release file, and the fake
``npu-smi`` / ``nvidia-smi`` on PATH printing the formats of boards.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchbench.agent.detect import detect
from tests.lab import sysfs_fixtures as fx

PERSONALITIES = Path(__file__).resolve().parents[1] / "lab" / "personalities"


def _none(tool: str) -> bool:
    return False


def test_jetson_orin_nano_super_from_board_id(tmp_path: Path) -> None:
    fx.jetson_orin_nano(tmp_path)
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "jetson-orin-nano"
    assert "p3767-0005" in got["reason"]
    assert got["evidence"]["l4t"] == "R36.4.3"


def test_jetson_agx_orin_and_nano(tmp_path: Path) -> None:
    fx.jetson_agx_orin(tmp_path / "agx")
    fx.jetson_nano_jp4(tmp_path / "nano")
    assert detect(str(tmp_path / "agx"), which=_none)["profile"] == "jetson-agx-orin"
    assert detect(str(tmp_path / "nano"), which=_none)["profile"] == "jetson-nano"


def test_jetson_orin_nx_from_model_when_the_board_id_is_unknown(tmp_path: Path) -> None:
    fx.put(tmp_path, "/etc/nv_tegra_release",
           "# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref")
    fx.device_tree(tmp_path, "NVIDIA Orin NX Developer Kit",
                   ["nvidia,p3509-0000+p3767-9999", "nvidia,tegra234"])
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "jetson-orin-nx" and "model" in got["reason"]


def test_unknown_jetson_module_is_generic_and_says_so(tmp_path: Path) -> None:
    fx.put(tmp_path, "/etc/nv_tegra_release", "# R39 (release), REVISION: 2.0")
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "generic-linux" and "Jetson" in got["reason"]


def test_raspberry_pi_5(tmp_path: Path) -> None:
    fx.pi5(tmp_path)
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "pi5" and "Raspberry Pi 5" in got["reason"]


def test_pi4_is_not_a_pi5(tmp_path: Path) -> None:
    fx.device_tree(tmp_path, "Raspberry Pi 4 Model B Rev 1.4", ["raspberrypi,4-model-b", "brcm,bcm2711"])
    assert detect(str(tmp_path), which=_none)["profile"] == "generic-linux"


def test_rk3588_from_compatible(tmp_path: Path) -> None:
    fx.rk3588(tmp_path)
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "rk3588" and "rockchip,rk3588s" in got["reason"]


def test_device_tree_under_proc_is_read_too(tmp_path: Path) -> None:
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/compatible").write_bytes(b"radxa,rock-5b\0rockchip,rk3588\0")
    assert detect(str(tmp_path), which=_none)["profile"] == "rk3588"


@pytest.fixture
def vendor_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    def use(family: str, state: dict | None = None) -> None:  # type: ignore[type-arg]
        monkeypatch.setenv("PATH", str(PERSONALITIES / family) + os.pathsep + os.environ["PATH"])
        if state is not None:
            f = tmp_path / "state.json"
            f.write_text(json.dumps(state))
            monkeypatch.setenv("FAKE_BOARD_STATE", str(f))
    return use


@pytest.mark.parametrize("model,profile", [("310b4", "ascend-310b"), ("910", "ascend-910b")])
def test_ascend_from_npu_smi(vendor_path, tmp_path: Path, model: str, profile: str) -> None:  # type: ignore[no-untyped-def]
    vendor_path("ascend", {"model": model})
    got = detect(str(tmp_path / "empty"))
    assert got["profile"] == profile and "npu-smi" in got["reason"]


def test_nvidia_gpu_from_nvidia_smi(vendor_path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vendor_path("nvidia", {"name": "NVIDIA H200"})
    got = detect(str(tmp_path / "empty"))
    assert got["profile"] == "nvidia-gpu" and "NVIDIA H200" in got["reason"]
    assert got["evidence"]["gpus"] == ["NVIDIA H200"]


def test_nothing_known_is_generic_linux(tmp_path: Path) -> None:
    got = detect(str(tmp_path), which=_none)
    assert got["profile"] == "generic-linux" and "no Jetson" in got["reason"]


def test_agent_probe_reports_the_detection(tmp_path: Path) -> None:
    fx.pi5(tmp_path)
    out = subprocess.run([sys.executable, "-m", "benchbench.agent", "probe", "--root", str(tmp_path),
                          "--families", "thermal"], stdout=subprocess.PIPE, check=True, text=True)
    snap = json.loads(out.stdout.strip().splitlines()[-1])
    assert snap["detected_profile"]["profile"] == "pi5"
    temp = next(s for s in snap["sensors"] if s.get("available"))
    assert temp["read_cost_s"] > 0
