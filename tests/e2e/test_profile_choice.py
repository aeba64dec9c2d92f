"""Issue #10 item 5 on the machine itself: ``benchbench run`` detects the local board's profile, ``--profile
NAME|FILE`` overrides it, the stored board snapshot and the report say which profile was used and why, and a
bad ``--profile`` is one line with exit 2 before anything is measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lab.suites import suite_yaml

from benchbench.results.store import Store

SUITE = suite_yaml("profile-choice", "  - workload: busy\n    params: {n: 2000}\n")
CUSTOM = """\
name: lab-custom
description: a lab's own profile file (memory only, no power sensor)
samplers: [memory]
power_unavailable_reason: "this lab board has no power sensor"
"""


def _run(bb, env, cwd: Path, *extra: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def,type-arg]
    res = bb("run", "--suite", "s.yaml", "--db", "p.db", "--json", "-o", "r.html", *extra, env=env, cwd=cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    run_id = json.loads(res.stdout)["run_id"]
    (board,) = Store(cwd / "p.db").load_run(run_id).boards
    return board.snapshot, {"report": (cwd / "r.html").read_text()}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "s.yaml").write_text(SUITE)
    (tmp_path / "custom.yaml").write_text(CUSTOM)
    return tmp_path


@pytest.mark.slow
def test_detected_then_overridden_by_name_and_by_file(work: Path, bb, bb_env) -> None:  # type: ignore[no-untyped-def]
    # what the agent itself recognises on this machine (generic-linux in CI; a GPU host says nvidia-gpu)
    det = json.loads(subprocess.run([sys.executable, "-m", "benchbench.agent", "detect"], capture_output=True,
                                    text=True, check=True, timeout=60).stdout.strip().splitlines()[-1])
    snap, out = _run(bb, bb_env, work)
    assert snap["profile"] == det["profile"]
    assert snap["profile_reason"] == f"detected: {det['reason']}"
    assert f"{det['profile']} (detected: " in out["report"]

    snap, out = _run(bb, bb_env, work, "--profile", "pi5")
    assert (snap["profile"], snap["profile_reason"]) == ("pi5", "--profile pi5")
    # the chosen profile's limits travel with it
    assert [lim["max_w"] for lim in snap["power_limits"]] == [27]
    assert "pi5 (--profile pi5)" in out["report"]

    custom = str(work / "custom.yaml")
    snap, out = _run(bb, bb_env, work, "--profile", custom)
    assert (snap["profile"], snap["profile_reason"]) == ("lab-custom", f"--profile {custom}")
    assert snap["power_limits"] == []
    assert f"lab-custom (--profile {custom})" in out["report"]


@pytest.mark.parametrize("value, words", [
    ("no-such-board", ["unknown device profile 'no-such-board'", "pi5"]),
    ("missing.yaml", ["missing.yaml"]),
    ("broken.yaml", ["broken.yaml", "samplers"]),
])
def test_bad_profile_is_one_line_exit_2(work: Path, bb, bb_env, value: str, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    (work / "broken.yaml").write_text("name: broken\ndescription: no samplers\n")
    res = bb("run", "--suite", "s.yaml", "--db", "p.db", "--profile", value, env=bb_env, cwd=work)
    assert res.returncode == 2, res.stderr
    errors = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("  hint: ")]
    assert len(errors) == 1 and errors[0].startswith("benchbench: error:"), res.stderr
    assert all(w in res.stderr for w in words), res.stderr
    assert "Traceback" not in res.stderr
    # refused before anything ran: no run stored
    assert not (work / "p.db").exists() or Store(work / "p.db").list_runs() == []
