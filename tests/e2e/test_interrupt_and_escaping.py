"""Ctrl-C mid-run keeps finished jobs and marks the run interrupted; hostile names are escaped."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab.slow_suite import SLOW_SUITE
from lab.sshlab import processes_matching

from benchbench.report.render import render_run
from benchbench.results.records import JobRecord, Metric
from benchbench.results.store import Store


@pytest.mark.slow
def test_ctrl_c_keeps_finished_jobs_and_marks_interrupted(tmp_path: Path, bb, bb_env):
    (tmp_path / "slow.yaml").write_text(SLOW_SUITE)
    proc = subprocess.Popen([sys.executable, "-m", "benchbench", "run", "--suite", "slow.yaml", "--db",
                             "i.db"],
                            env=bb_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored < 1:
        time.sleep(0.3)
        if (tmp_path / "i.db").exists():
            try:
                with sqlite3.connect(tmp_path / "i.db") as c:
                    stored = c.execute("select count(*) from jobs").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    assert stored >= 1, "no job finished in time"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    store = Store(tmp_path / "i.db")
    run = store.list_runs()[0]
    assert run.status == "interrupted"
    jobs = store.load_run(run.run_id).jobs
    assert 1 <= len(jobs) < 6 and all(j.status == "ok" for j in jobs)
    # nothing left running on the (local) board
    time.sleep(0.5)
    assert processes_matching(os.path.join(bb_env["BENCHBENCH_CACHE"], "boards")) == {}
    rep = subprocess.run([sys.executable, "-m", "benchbench", "report", "--db", "i.db", "-o", "i.html"],
                         env=bb_env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert rep.returncode == 0, rep.stderr
    html = (tmp_path / "i.html").read_text()
    assert 'id="run-status">interrupted' in html
    assert html.count('data-workload="busy"') == len(jobs)


def test_script_in_board_workload_and_suite_names_is_escaped(tmp_path: Path):
    store = Store(tmp_path / "x.db")
    evil = "<script>alert(1)</script>"
    store.create_run("r1", f"suite {evil}", None, None, "0", {"hostname": evil}, {})
    store.record_board("r1", f"board{evil}", {"hostname": evil, "sensors": [
        {"family": "rapl", "quantity": "energy", "reason": evil, "available": False}]})
    store.add_job(JobRecord(
        run_id="r1", board=f"board{evil}", job_key="k", workload=f"wl{evil}", backend="numpy",
        precision="fp32",
        pruning="none", params={"n": evil}, status="ok", implementation=evil, timed_window=evil,
        metrics=(Metric("latency.p50", 0.001, "s"), Metric("power.mean", None, "W", unavailable_reason=evil)),
        raw={"latency_rounds": [{"t_start_ns": 0, "t_end_ns": 1, "values_s": [0.001, 0.0011, 0.0009]}]}))
    store.finish_run("r1", "complete")
    html = render_run(store.load_run("r1"))
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
