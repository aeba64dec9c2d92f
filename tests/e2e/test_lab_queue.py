"""Issue 15 acceptance: many controllers share one PostgreSQL through procrastinate — a private PostgreSQL
cluster (tests/lab/postgres.py) and real sshd lab boards (tests/lab/sshlab.py).

* three `benchbench worker`s drain one submitted run of 40 jobs on eight boards; one worker is SIGKILLed
  mid-batch: the engine's stalled-job recovery requeues its batch and another worker re-runs it; every job
  is stored exactly once, no two jobs ever overlap on one board, the run completes;
* two `benchbench run`s on one board at once: the second skips it ("busy: <controller> since <time>"),
  a third with --wait measures it after the first has finished;
* submit/worker/queue on SQLite: exit 2, one line.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from lab.fleets import lab_fleet

from benchbench.lab.engine import conninfo, ensure_schema
from benchbench.results.store import Store

pytest.importorskip("procrastinate")

SUITE = """\
name: lab-busy
timing: {{warmup_s: 0.01, min_value_s: {min_value_s}, rounds: 2, values_per_round: 3, max_timed_s: 10}}
sampling: {{interval_s: 0.05, measure_overhead: false}}
jobs:
  - workload: busy
    params: {{n: {ns}}}
"""
# short engine timings so a dead worker is noticed in seconds (production defaults: 5 s / 30 s)
WORKER_OPTS = ["--heartbeat", "0.5", "--stalled-after", "5", "--poll", "0.5"]


@pytest.fixture
def env(bb_env: dict[str, str]) -> dict[str, str]:
    e = dict(bb_env)
    e.pop("SSH_AUTH_SOCK", None)
    return e


def _cli(*args: str, env: dict[str, str], cwd: Path, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "benchbench", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _activity(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo(url)) as conn:
        return conn.execute("SELECT job_id, board, controller, finished_at, outcome FROM "
                            "benchbench_queue.bb_activity").fetchall()


def _no_overlap(jobs: Any) -> None:
    by_board: dict[str, list[tuple[float, float]]] = {}
    for j in jobs:
        by_board.setdefault(j.board, []).append((j.started_at, j.started_at + j.duration_s))
    for board, spans in by_board.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"{board}: two jobs overlap ({start} < {end})"


@pytest.mark.slow
def test_three_workers_drain_one_run_one_killed(tmp_path: Path, env: dict[str, str], ssh_lab: Any,
                                                 postgres_url: str) -> None:
    boards = [ssh_lab.add_board(f"q15-{i}") for i in range(8)]
    try:
        fleet = lab_fleet(tmp_path, ssh_lab, boards)
        # five jobs per board of ~0.15 s each, in batches of two: 24 engine jobs, 40 benchmark jobs
        (tmp_path / "s.yaml").write_text(SUITE.format(min_value_s=0.02,
                                                      ns="[20000, 20001, 20002, 20003, 20004]"))
        sub = subprocess.run([sys.executable, "-m", "benchbench", "submit", "--suite", "s.yaml", "--fleet",
                              str(fleet), "--db", postgres_url, "--batch", "2", "--json"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
        assert sub.returncode == 0, sub.stderr
        run_id = json.loads(sub.stdout)["run_id"]
        assert sum(json.loads(sub.stdout)["jobs"].values()) == 40
        common = ["--db", postgres_url, "--fleet", str(fleet), "--ssh-config", str(tmp_path / "ssh_config"),
                  *WORKER_OPTS]
        workers = {f"w{i}": _cli("worker", "--name", f"w{i}", *common, env=env, cwd=tmp_path)
                   for i in range(3)}
        store = Store(postgres_url)
        killed = None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            info = next(r for r in store.list_runs() if r.run_id == run_id)
            if info.status == "complete":
                break
            if killed is None:
                busy = [row for row in _activity(postgres_url) if row[3] is None and row[2] in workers]
                if busy and info.n_jobs >= 4:  # a worker mid-batch, after the run is well under way
                    killed = busy[0]
                    workers[killed[2]].kill()  # SIGKILL: no cleanup, no unregister, heartbeats stop
            time.sleep(0.2)
        assert killed is not None
        run = store.load_run(run_id, with_raw=False)
        assert run.info.status == "complete"
        keys = [(j.board, j.job_key) for j in run.jobs]
        assert len(keys) == 40 and len(set(keys)) == 40  # every job exactly once
        assert all(j.status == "ok" for j in run.jobs), [(j.board, j.status, j.reason) for j in run.jobs]
        _no_overlap(run.jobs)
        # the killed worker's batch was taken back by the engine and finished by another controller
        rerun = next(r for r in _activity(postgres_url) if r[0] == killed[0])
        assert rerun[2] != killed[2] and rerun[4] == "done"
        with psycopg.connect(conninfo(postgres_url)) as conn:
            attempts = conn.execute("SELECT attempts, status FROM procrastinate_jobs WHERE id = %s",
                                    (killed[0],)).fetchone()
        assert attempts is not None and attempts[0] >= 1 and attempts[1] == "succeeded"
        # which controller measured what: every job, and the board snapshot
        controllers = {j.details["controller"] for j in run.jobs}
        assert len(controllers) >= 2 and controllers <= set(workers)
        assert all(b.snapshot.get("controller") in workers for b in run.boards)
        rep = subprocess.run([sys.executable, "-m", "benchbench", "report", "--db", postgres_url, "--run",
                              run_id, "-o", "r.html"], env=env, cwd=tmp_path, capture_output=True, text=True,
                             check=False, timeout=120)
        assert rep.returncode == 0, rep.stderr
        html = (tmp_path / "r.html").read_text()
        assert html.count("measured by</th><td colspan=\"3\">lab controller w") == 8
        q = subprocess.run([sys.executable, "-m", "benchbench", "queue", "--db", postgres_url, "--run",
                            run_id,
                            "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
                           timeout=60)
        assert q.returncode == 0, q.stderr
        rows = json.loads(q.stdout)["boards"]
        assert {r["board"] for r in rows} == {b.name for b in boards}
        assert all(r["queued"] == 0 and r["done"] == 5 and r["failed"] == 0 and not r["running"]
                   for r in rows)
        # SIGTERM: the survivors stop cleanly
        for name, p in workers.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in workers.items():
            _, err = p.communicate(timeout=60)
            if name != killed[2]:
                assert p.returncode == 0, err
        assert "password" not in err.lower()
    finally:
        for b in boards:
            ssh_lab.kill_tree(b)


@pytest.mark.slow
def test_two_runs_on_one_board_skip_or_wait(tmp_path: Path, env: dict[str, str], ssh_lab: Any,
                                            fresh_board: Any, postgres_url: str) -> None:
    fleet = lab_fleet(tmp_path, ssh_lab, [fresh_board])
    (tmp_path / "slow.yaml").write_text(SUITE.format(min_value_s=0.4,
                                                     ns="[30000, 30001, 30002, 30003, 30004]"))
    (tmp_path / "quick.yaml").write_text(SUITE.format(min_value_s=0.002, ns="[1000]"))
    base = ["run", "--fleet", str(fleet), "--db", postgres_url, "--json", "--no-report",
            "--ssh-config", str(tmp_path / "ssh_config")]
    ensure_schema(postgres_url)  # so the poll below can read the queue tables before the run creates them
    first = _cli(*base, "--suite", "slow.yaml", env=env, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not any(r[1] == fresh_board.name and r[3] is None for r in _activity(postgres_url)):
        assert time.monotonic() < deadline and first.poll() is None, "first run never leased the board"
        time.sleep(0.1)
    second = subprocess.run([sys.executable, "-m", "benchbench", *base, "--suite", "quick.yaml"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    waiter = _cli(*base, "--suite", "quick.yaml", "--wait", env=env, cwd=tmp_path)
    out1, err1 = first.communicate(timeout=120)
    out3, err3 = waiter.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 1, second.stderr  # the board was skipped: a failed board, nothing measured
    store = Store(postgres_url)
    skipped = store.load_run(json.loads(second.stdout)["run_id"], with_raw=False)
    assert [j.status for j in skipped.jobs] == ["skipped"]
    reason = skipped.jobs[0].reason or ""
    assert reason.startswith("busy: ") and f":{first.pid} since " in reason, reason
    assert waiter.returncode == 0, err3
    run1 = store.load_run(json.loads(out1)["run_id"], with_raw=False)
    run3 = store.load_run(json.loads(out3)["run_id"], with_raw=False)
    assert [j.status for j in run3.jobs] == ["ok"]
    assert run3.jobs[0].started_at >= max(j.started_at + j.duration_s for j in run1.jobs)


def test_lab_commands_refuse_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from benchbench.cli.main import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text("boards: []\n")
    for args in (["submit", "--fleet", "fleet.yaml"], ["worker", "--fleet", "fleet.yaml"], ["queue"]):
        res = CliRunner().invoke(main, [*args, "--db", "lab.db"])
        assert res.exit_code == 2, res.output
        assert "needs PostgreSQL" in res.stderr and "Traceback" not in res.stderr
        assert not (tmp_path / "lab.db").exists()


def test_queue_tables_stay_out_of_the_results_schema(postgres_url: str) -> None:
    # the store refuses a database holding foreign tables next to its own: the engine has its own schema
    Store(postgres_url)
    ensure_schema(postgres_url)
    Store(postgres_url)
    with psycopg.connect(conninfo(postgres_url)) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert not any(t.startswith("procrastinate") for t in tables)
