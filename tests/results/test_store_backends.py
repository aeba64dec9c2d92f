"""The results store on SQLite and on a real PostgreSQL server: round trips, the schema version, and two
controllers writing to one database at the same time (nothing lost, nothing duplicated)."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from lab.storegen import JobSpec, job_record

from benchbench.results import schema as s
from benchbench.results.records import JobRecord
from benchbench.results.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'r.db'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _jobs(run_id: str, keys: range, seed: int) -> list[JobRecord]:
    rng = np.random.default_rng(seed)
    return [job_record(run_id, JobSpec("pi5", f"w{k:03d}", "int8", params=(("batch", k),)), rng,
                       exact_stats=False)
            for k in keys]


def test_round_trip(db_url: str) -> None:
    store = Store(db_url)
    store.create_run("r1", "nightly ✓", "suites/nightly.yaml", "ab" * 32, "0.1.0", {"hostname": "ctl"},
                     {"pi5": ["a"]}, started_at=1.7e9)
    store.record_board("r1", "pi5", {"kernel": "6.6.51", "note": "ünïcode <&>"}, status="running")
    store.record_board("r1", "pi5", overhead={"overhead_pct": 0.4}, status="complete")
    jobs = _jobs("r1", range(5), seed=1)
    long_tail = "x" * 20_000  # stderr tails and reasons are unbounded text on every backend
    jobs.append(JobRecord(run_id="r1", board="pi5", job_key="k" * 900, workload="yolo", backend="ort",
                          precision="int4", pruning="none", params={}, status="failed", reason=long_tail,
                          stderr_tail=long_tail))
    assert [store.add_job(j) for j in jobs] == [True] * 6
    assert store.add_job(jobs[0]) is False  # already stored: idempotent
    store.finish_run("r1", "complete")
    run = store.load_run("r1")
    # every field, metric (None values too), warning and raw value; metrics come back sorted by name
    assert run.jobs == tuple(replace(j, metrics=tuple(sorted(j.metrics, key=lambda m: m.name))) for j in jobs)
    assert run.info.status == "complete" and run.info.started_at == 1.7e9
    assert run.info.suite_name == "nightly ✓"
    (board,) = run.boards
    assert board.snapshot["note"] == "ünïcode <&>" and board.overhead == {"overhead_pct": 0.4}
    assert board.status == "complete"
    (info,) = store.list_runs()
    assert info.n_jobs == 6 and store.stored_job_keys("r1") == {("pi5", j.job_key) for j in jobs}


def test_schema_version_row(db_url: str) -> None:
    Store(db_url)
    Store(db_url)  # reopening migrates nothing and adds no second row
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s.meta.c.key, s.meta.c.value)).all()
    engine.dispose()
    assert rows == [("schema_version", str(s.SCHEMA_VERSION))]


def _controller(url: str, name: str, start: multiprocessing.synchronize.Event,
                out: multiprocessing.Queue) -> None:
    """One controller process: opens the database, then adds an overlapping share of the shared run and all
    of its own run, interleaving the two."""
    start.wait(30)
    store = Store(url)
    shared = range(60) if name == "a" else range(30, 90)
    own = f"own-{name}"
    store.create_run(own, "nightly", None, None, "0.1.0", {"hostname": name}, {})
    added = []
    for sj, oj in zip(_jobs("shared", shared, seed=7), _jobs(own, range(40), seed=8)):
        added.append((sj.job_key, store.add_job(sj)))
        store.add_job(oj)
    for sj in _jobs("shared", shared, seed=7)[40:]:
        added.append((sj.job_key, store.add_job(sj)))
    store.finish_run(own, "complete")
    out.put((name, added))


@pytest.mark.slow
def test_two_controllers_lose_nothing_and_duplicate_nothing(db_url: str) -> None:
    Store(db_url).create_run("shared", "nightly", None, None, "0.1.0", {}, {})
    ctx = multiprocessing.get_context("fork")  # children exit via os._exit: inherited pools are untouched
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_controller, args=(db_url, n, start, out)) for n in ("a", "b")]
    for p in procs:
        p.start()
    start.set()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    # every overlapping job was stored by exactly one controller; the other was told "already stored"
    stored_by = Counter(k for added in results.values() for k, ok in added if ok)
    assert set(stored_by.values()) == {1} and len(stored_by) == 90
    overlap = {k for k, _ in results["a"]} & {k for k, _ in results["b"]}
    assert len(overlap) == 30

    store = Store(db_url)
    shared = store.load_run("shared")
    assert len(shared.jobs) == 90 and len({j.job_key for j in shared.jobs}) == 90
    expected = {j.job_key: j for j in _jobs("shared", range(90), seed=7)}
    for j in shared.jobs:  # no job half-written: its metrics and raw rows came in the same transaction
        assert len(j.metrics) == len(expected[j.job_key].metrics) and j.raw.keys() == {"latency_rounds"}
    for name in ("a", "b"):
        own = store.load_run(f"own-{name}")
        assert own.info.status == "complete" and len(own.jobs) == 40
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        per_key = conn.execute(sa.select(s.jobs.c.run_id, s.jobs.c.board, s.jobs.c.job_key, sa.func.count())
                               .group_by(s.jobs.c.run_id, s.jobs.c.board, s.jobs.c.job_key)
                               .having(sa.func.count() > 1)).all()
        total = conn.execute(sa.select(sa.func.count()).select_from(s.jobs)).scalar_one()
        orphans = conn.execute(sa.select(sa.func.count()).select_from(s.metrics).where(
            ~s.metrics.c.job_id.in_(sa.select(s.jobs.c.id)))).scalar_one()
    engine.dispose()
    assert per_key == [] and total == 170 and orphans == 0


def _opener(url: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue) -> None:
    start.wait(30)
    try:
        Store(url)
        out.put("ok")
    except Exception as exc:  # noqa: BLE001 - report any failure to the parent test
        out.put(f"{type(exc).__name__}: {exc}")


def test_controllers_opening_a_new_database_at_once(db_url: str) -> None:
    """Both controllers find an empty database and create the schema at the same moment."""
    ctx = multiprocessing.get_context("fork")  # children exit via os._exit: inherited pools are untouched
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_opener, args=(db_url, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert outcomes == ["ok"] * 3
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.meta)).scalar_one() == 1
    engine.dispose()
