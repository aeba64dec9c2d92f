"""`benchbench run --fleet` on real sshd lab boards: failure isolation, per-board results, resume after
the controller is SIGKILLed (no duplicates, nothing left running on the board)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab.fleets import lab_fleet
from lab.sshlab import processes_matching

from benchbench.results.store import Store

BUSY_SUITE = """\
name: fleet-busy
timing: {{warmup_s: 0.02, min_value_s: {min_value_s}, rounds: {rounds}, values_per_round: 5, max_timed_s: 30}}
sampling: {{interval_s: 0.05, measure_overhead: false}}
jobs:
  - workload: busy
    params: {{n: {ns}}}
"""


@pytest.fixture
def fleet_env(bb_env):
    env = dict(bb_env)
    env.pop("SSH_AUTH_SOCK", None)
    return env


@pytest.mark.slow
def test_fleet_run_isolates_an_unreachable_board(tmp_path: Path, bb, fleet_env, ssh_lab, lab_boards):
    dead = ssh_lab.add_board("run-dead")
    ssh_lab.kill_tree(dead)
    fleet = lab_fleet(tmp_path, ssh_lab, [*lab_boards[:2], dead])
    (tmp_path / "s.yaml").write_text(BUSY_SUITE.format(min_value_s=0.002, rounds=2, ns="[500, 1000]"))
    res = bb("run", "--fleet", str(fleet), "--suite", "s.yaml", "--db", "f.db", "--json", "--ssh-config",
             str(tmp_path / "ssh_config"), env=fleet_env, cwd=tmp_path)
    assert res.returncode == 1, res.stderr  # one board failed, the others' results are stored
    outcome = json.loads(res.stdout)
    run = Store(tmp_path / "f.db").load_run(outcome["run_id"])
    by_board: dict[str, list[str]] = {}
    for j in run.jobs:
        by_board.setdefault(j.board, []).append(j.status)
    for b in lab_boards[:2]:
        assert by_board[b.name] == ["ok", "ok"]
        # the snapshot came from the board's own agent over SSH
        snap = next(x for x in run.boards if x.board == b.name).snapshot
        assert snap["agent_version"] and snap["python"]["version"].startswith("3.")
    assert by_board["run-dead"] == ["skipped", "skipped"]
    reason = next(j.reason for j in run.jobs if j.board == "run-dead")
    assert "refused" in reason
    assert "run-dead" in outcome["boards"] and outcome["boards"]["run-dead"]["error"]
    # boards selected by name only
    res2 = bb("run", "--fleet", str(fleet), "--boards", lab_boards[0].name, "--suite", "s.yaml", "--db",
              "f.db", "--json", "--no-report", "--ssh-config", str(tmp_path / "ssh_config"), env=fleet_env,
              cwd=tmp_path)
    assert res2.returncode == 0, res2.stderr
    assert set(json.loads(res2.stdout)["boards"]) == {lab_boards[0].name}


@pytest.mark.slow
def test_controller_sigkill_then_resume(tmp_path: Path, fleet_env, ssh_lab, fresh_board):
    fleet = lab_fleet(tmp_path, ssh_lab, [fresh_board])
    ns = "[20000, 20001, 20002, 20003, 20004]"
    (tmp_path / "s.yaml").write_text(BUSY_SUITE.format(min_value_s=0.05, rounds=4, ns=ns))
    cmd = [sys.executable, "-m", "benchbench", "run", "--fleet", str(fleet), "--suite", "s.yaml", "--db",
           "k.db", "--no-report", "--ssh-config", str(tmp_path / "ssh_config")]
    proc = subprocess.Popen(cmd, env=fleet_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored < 1:
        time.sleep(0.2)
        try:
            with sqlite3.connect(tmp_path / "k.db") as c:
                stored = c.execute("select count(*) from jobs").fetchone()[0]
        except sqlite3.OperationalError:
            pass
    assert stored >= 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(tmp_path / "k.db")
    run_id = store.list_runs()[0].run_id
    assert store.list_runs()[0].status == "running"  # nobody could mark it
    res = subprocess.run([*cmd[:4], "--resume", run_id, "--db", "k.db", "--json", "--no-report",
                          "--ssh-config", str(tmp_path / "ssh_config")], env=fleet_env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    run = Store(tmp_path / "k.db").load_run(run_id)
    keys = [j.job_key for j in run.jobs]
    assert len(keys) == 5 and len(set(keys)) == 5  # every job once, no duplicates
    assert all(j.status == "ok" for j in run.jobs)
    assert run.info.status == "complete"
    time.sleep(0.5)
    # nothing left running on the board
    assert [c for c in processes_matching(str(fresh_board.work_dir)).values() if ".pyz" in c] == []
