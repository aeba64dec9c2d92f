"""Opening a schema-v1 results file (written here with the v1 DDL, as benchbench 0.1 created it) migrates it
to the current schema in place: the data stays readable and the v2 covering index on metrics exists and is
used."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from benchbench.report.sitedata import history_entries
from benchbench.results import schema as s
from benchbench.results.store import Store, pack

V1_DDL = """
CREATE TABLE meta ("key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key"));
CREATE TABLE runs (run_id VARCHAR(64) NOT NULL, started_at FLOAT NOT NULL, finished_at FLOAT,
    status VARCHAR(16) NOT NULL, suite_name VARCHAR(200) NOT NULL, suite_file TEXT, suite_hash VARCHAR(64),
    tool_version VARCHAR(32) NOT NULL, controller_json TEXT NOT NULL, plan_json TEXT, PRIMARY KEY (run_id));
CREATE TABLE boards (run_id VARCHAR(64) NOT NULL, board VARCHAR(200) NOT NULL, snapshot_json TEXT NOT NULL,
    overhead_json TEXT, status VARCHAR(16), reason TEXT, PRIMARY KEY (run_id, board),
    FOREIGN KEY(run_id) REFERENCES runs (run_id));
CREATE TABLE jobs (id INTEGER NOT NULL, run_id VARCHAR(64) NOT NULL, board VARCHAR(200) NOT NULL,
    job_key VARCHAR(1000) NOT NULL, workload VARCHAR(200) NOT NULL, backend VARCHAR(64) NOT NULL,
    precision VARCHAR(32) NOT NULL, pruning VARCHAR(64) NOT NULL, params_json TEXT NOT NULL,
    status VARCHAR(16) NOT NULL, reason TEXT, stderr_tail TEXT, implementation TEXT, timed_window TEXT,
    started_at FLOAT, duration_s FLOAT, work_json TEXT, env_json TEXT, details_json TEXT, warnings_json TEXT,
    PRIMARY KEY (id), CONSTRAINT uq_job UNIQUE (run_id, board, job_key),
    FOREIGN KEY(run_id) REFERENCES runs (run_id));
CREATE INDEX ix_jobs_series ON jobs (board, workload, precision, pruning);
CREATE TABLE metrics (job_id INTEGER NOT NULL, name VARCHAR(200) NOT NULL, value FLOAT,
    unit VARCHAR(32) NOT NULL, scope VARCHAR(32), source TEXT, detail TEXT, unavailable_reason TEXT,
    PRIMARY KEY (job_id, name),
    FOREIGN KEY(job_id) REFERENCES jobs (id));
CREATE TABLE raw (job_id INTEGER NOT NULL, kind VARCHAR(200) NOT NULL, encoding VARCHAR(32) NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (job_id, kind), FOREIGN KEY(job_id) REFERENCES jobs (id));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES ('old-run', 1.7e9, 1.7e9 + 60, 'complete', 'nightly', NULL, NULL, '0.1.0',
    '{}', '{}');
INSERT INTO boards VALUES ('old-run', 'pi5', '{"kernel": "6.6.51"}', NULL, 'complete', NULL);
INSERT INTO jobs (id, run_id, board, job_key, workload, backend, precision, pruning, params_json, status)
    VALUES (1, 'old-run', 'pi5', 'gemm/fp32', 'gemm', 'numpy', 'fp32', 'none', '{"n": 256}', 'ok'),
           (2, 'old-run', 'pi5', 'gemm/int8', 'gemm', 'numpy', 'int8', 'none', '{"n": 256}', 'failed');
INSERT INTO metrics (job_id, name, value, unit) VALUES (1, 'latency.p50', 0.002, 's'),
    (1, 'mem.peak_rss', 5e7, 'bytes'), (2, 'latency.p50', 0.5, 's');
"""


def _v1_file(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(V1_DDL)
    con.execute("INSERT INTO raw VALUES (1, 'latency_rounds', 'json+zlib', ?)",
                (pack([{"values_s": [0.002, 0.0021, 0.0019]}]),))
    con.commit()
    con.close()


def _indexes(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {r[0] for r in rows}
    finally:
        con.close()


def test_v1_file_is_migrated_and_readable(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _v1_file(db)
    assert _indexes(db) == {"ix_jobs_series"}
    store = Store(db)
    con = sqlite3.connect(db)
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(s.SCHEMA_VERSION),)
    assert s.SCHEMA_VERSION == 2
    plan = " ".join(str(r) for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT job_id, name, value FROM metrics "
        "WHERE name IN ('latency.p50', 'mem.peak_rss')"))
    con.close()
    assert _indexes(db) == {"ix_jobs_series", "ix_metrics_name"} and "COVERING INDEX ix_metrics_name" in plan
    run = store.load_run("old-run")
    ok = next(j for j in run.jobs if j.status == "ok")
    assert ok.value("latency.p50") == 0.002 and ok.raw["latency_rounds"][0]["values_s"][1] == 0.0021
    entries = history_entries(store, ["latency.p50", "mem_peak"])
    # the failed job's metric is not read in
    assert [(ref.run_id, e.key.precision, dict(e.metrics)) for ref, e in entries] == \
        [("old-run", "fp32", {"latency.p50": 0.002, "mem.peak_rss": 5e7})]
    Store(db)  # opening again: already current, nothing to do
    assert _indexes(db) == {"ix_jobs_series", "ix_metrics_name"}


def test_new_database_is_created_at_the_current_version(tmp_path: Path) -> None:
    Store(tmp_path / "new.db")
    assert "ix_metrics_name" in _indexes(tmp_path / "new.db")
