"""``benchbench fleet check`` against lab boards: healthy boards report facts, a dead one reasons."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from lab.fleets import lab_fleet

from benchbench.cli.main import main


def _fleet_check_json(ssh_lab, tmp_path, monkeypatch, boards, **fleet):
    """``fleet check --json`` on a fleet file of lab boards (no work_dir: the default; ``fleet``: the rest of
    ``lab_fleet``'s options), with the lab's key and known_hosts, an empty ssh config, no agent and a cache of
    this test's own."""
    path = lab_fleet(tmp_path, ssh_lab, boards, work_dir=False, **fleet)
    monkeypatch.setenv("BENCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return CliRunner().invoke(main, ["fleet", "check", "--fleet", str(path), "--json", "--ssh-config",
                                     str(tmp_path / "ssh_config")])


def test_fleet_check_json(ssh_lab, lab_boards, tmp_path, monkeypatch):
    dead = ssh_lab.add_board("check-dead")
    ssh_lab.kill_tree(dead)
    res = _fleet_check_json(ssh_lab, tmp_path, monkeypatch, [*lab_boards[:2], dead])
    assert res.exit_code == 1, res.output  # one board is down
    report = {r["name"]: r for r in json.loads(res.output)}
    assert list(report) == [lab_boards[0].name, lab_boards[1].name, "check-dead"]
    for b in lab_boards[:2]:
        r = report[b.name]
        assert r["healthy"] and r["reachable"] and r["reasons"] == []
        assert r["python"].startswith("3.") and r["arch"] and r["free_disk_bytes"] > 0
        assert any(s["quantity"] == "memory" for s in r["sensors"])
        # the agent landed in the board's own work dir, content-addressed
        assert list(Path(b.work_dir).glob("agent-*.pyz"))
    assert not report["check-dead"]["healthy"] and "refused" in report["check-dead"]["reasons"][0]


def test_fleet_check_says_which_profile_and_warns_on_mismatch(ssh_lab, tmp_path, monkeypatch):
    """Issue #10 item 5: a Pi 5 device tree mounted over /sys on a lab board; one fleet entry without a
    profile (detected), one configured as rk3588 (warned: the board looks like a pi5)."""
    from tests.lab import sysfs_fixtures as fx
    tree = ssh_lab.root / "detect-pi5"
    (tree / "sys").mkdir(parents=True)
    fx.pi5(tree)
    boards = [ssh_lab.add_board(f"detect-{n}", mounts=[(str(tree / "sys"), "/sys")])
              for n in ("auto", "wrong")]
    res = _fleet_check_json(ssh_lab, tmp_path, monkeypatch, boards, tags=False,
                            extra=lambda b: {"profile": "rk3588"} if b.name == "detect-wrong" else {})
    report = {r["name"]: r for r in json.loads(res.output)}
    auto, wrong = report["detect-auto"], report["detect-wrong"]
    assert auto["profile"] == "pi5" and auto["profile_reason"].startswith("detected: device-tree model")
    assert auto["warnings"] == []
    assert wrong["profile"] == "rk3588" and wrong["profile_reason"] == "fleet file profile"
    assert wrong["detected_profile"]["profile"] == "pi5"
    assert "looks like pi5" in wrong["warnings"][0]
