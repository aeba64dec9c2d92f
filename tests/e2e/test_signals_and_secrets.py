"""SIGTERM and SIGHUP stop a run like Ctrl-C (agents stopped, finished jobs stored, run ``interrupted``,
exit 128+signal), locally and on a lab board over SSH; a database password never reaches output, the
database or a report; a foreign SQLite file is never touched."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from lab.fleets import lab_fleet
from lab.slow_suite import SLOW_SUITE
from lab.sshlab import processes_matching

from benchbench.results.store import Store


def _wait_for_a_stored_job(db: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            with sqlite3.connect(db) as c:
                if c.execute("select count(*) from jobs").fetchone()[0] >= 1:
                    return
        except sqlite3.OperationalError:
            pass
    raise AssertionError("no job finished in time")


def _interrupt(argv: list[str], cwd: Path, env: dict[str, str], db: Path, sig: int) -> tuple[str, str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "benchbench", *argv], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_a_stored_job(db, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=90)
    return out, err, proc.returncode


def _check_interrupted(db: Path, out: str, err: str, code: int, sig: int) -> None:
    assert code == 128 + sig, err
    assert "Traceback" not in err
    store = Store(db, readonly=True)
    run = store.list_runs()[0]
    assert run.status == "interrupted"
    jobs = store.load_run(run.run_id).jobs
    assert 1 <= len(jobs) < 6 and all(j.status == "ok" for j in jobs)
    # the summary counts what was stored before the stop
    assert f"{len(jobs)} ok" in out and "(interrupted)" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_stops_a_local_run_cleanly(sig: int, tmp_path: Path, bb_env: dict[str, str]) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW_SUITE)
    db = tmp_path / "s.db"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(bb_env, TMPDIR=str(scratch))  # the local agent's temp dirs land here
    out, err, code = _interrupt(["run", "--suite", "slow.yaml", "--db", str(db), "--no-report"], tmp_path,
                                env, db, sig)
    _check_interrupted(db, out, err, code, sig)
    time.sleep(0.5)
    assert [c for c in processes_matching(bb_env["BENCHBENCH_CACHE"]).values() if ".pyz" in c] == []
    assert list(scratch.glob("bb-agent-*")) == [], "the agent's scratch directory was left behind"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_stops_a_lab_board_run_cleanly(sig: int, tmp_path: Path, bb_env: dict[str, str], ssh_lab,
                                              fresh_board) -> None:
    board = fresh_board
    (tmp_path / "slow.yaml").write_text(SLOW_SUITE)
    lab_fleet(tmp_path, ssh_lab, [board], tags=False)
    env = {k: v for k, v in bb_env.items() if k != "SSH_AUTH_SOCK"}
    db = tmp_path / "f.db"
    out, err, code = _interrupt(["run", "--fleet", "fleet.yaml", "--suite", "slow.yaml", "--db", str(db),
                                 "--no-report", "--ssh-config", str(tmp_path / "ssh_config")], tmp_path, env,
                                db, sig)
    _check_interrupted(db, out, err, code, sig)
    time.sleep(1.0)
    left = [c for c in processes_matching(str(board.work_dir)).values() if ".pyz" in c]
    assert left == [], "the agent was left running on the board"


MARKER = "Pw-MARKER-7f3c9e"


@pytest.mark.slow
def test_database_password_is_never_shown_or_stored(tmp_path: Path, bb, bb_env: dict[str, str],
                                                    tiny_suite: Path,
                                                     postgres_url: str) -> None:
    # trust authentication ignores the password, so the run succeeds with it in the user-info and the query
    url = postgres_url.replace("://postgres@", f"://postgres:{MARKER}@").replace("://root@", f"://root:{MARKER}@")
    url += f"&password={MARKER}"
    assert url.count(MARKER) == 2
    res = bb("run", "--suite", str(tiny_suite), "--db", url, "--json", "-o", "r.html", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert MARKER not in res.stdout + res.stderr
    assert "***" in json.loads(res.stdout)["db"]
    text = bb("run", "--suite", str(tiny_suite), "--db", url, "--no-report", env=bb_env, cwd=tmp_path)
    assert MARKER not in text.stdout + text.stderr and "results: " in text.stdout
    assert MARKER not in (tmp_path / "r.html").read_text()
    for cmd in (("report", "--list"), ("history",), ("export", "--format", "json", "-o", "e.json")):
        r = bb("--debug", *cmd, "--db", url, env=bb_env, cwd=tmp_path)
        assert r.returncode == 0 and MARKER not in r.stdout + r.stderr, r.stderr
    assert MARKER not in (tmp_path / "e.json").read_text()
    # errors, with --debug too
    bad = url.replace("/benchbench?", "/no_such_db?")
    r = bb("--debug", "report", "--list", "--db", bad, env=bb_env, cwd=tmp_path)
    assert r.returncode == 2 and MARKER not in r.stdout + r.stderr, r.stderr
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        for table in ("runs", "boards", "jobs", "metrics"):
            rows = conn.execute(sa.text(f"select * from {table}")).all()
            assert MARKER not in repr(rows)
    engine.dispose()


@pytest.mark.slow
def test_foreign_sqlite_database_is_untouched_byte_for_byte(tmp_path: Path, bb, bb_env: dict[str, str],
                                                            tiny_suite: Path) -> None:
    db = tmp_path / "their.db"
    with sqlite3.connect(db) as c:
        c.execute("create table runs (id integer primary key, owner text)")
        c.execute("insert into runs (owner) values ('someone else')")
    c.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for cmd in (("run", "--suite", str(tiny_suite), "--no-report"), ("report", "--list"), ("history",),
                ("import", "pytest-benchmark", "x.json", "--board", "b")):
        (tmp_path / "x.json").write_text('{"benchmarks": []}')
        r = bb(*cmd, "--db", str(db), env=bb_env, cwd=tmp_path)
        assert r.returncode == 2 and "not a benchbench results database" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before
