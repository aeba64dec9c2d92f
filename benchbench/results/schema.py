"""SQL schema (SQLAlchemy Core) and its migrations. The version lives in the ``meta`` table."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SCHEMA_VERSION = 2

metadata = sa.MetaData()

meta = sa.Table("meta", metadata,
                sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text, nullable=False))

runs = sa.Table("runs", metadata,
                sa.Column("run_id", sa.String(64), primary_key=True),
                sa.Column("started_at", sa.Float, nullable=False),
                sa.Column("finished_at", sa.Float),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("suite_name", sa.String(200), nullable=False),
                sa.Column("suite_file", sa.Text),
                sa.Column("suite_hash", sa.String(64)),
                sa.Column("tool_version", sa.String(32), nullable=False),
                sa.Column("controller_json", sa.Text, nullable=False),
                sa.Column("plan_json", sa.Text))

boards = sa.Table("boards", metadata,
                  sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
                  sa.Column("board", sa.String(200), primary_key=True),
                  sa.Column("snapshot_json", sa.Text, nullable=False),
                  sa.Column("overhead_json", sa.Text),
                  sa.Column("status", sa.String(16)),
                  sa.Column("reason", sa.Text))

jobs = sa.Table("jobs", metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
                sa.Column("board", sa.String(200), nullable=False),
                sa.Column("job_key", sa.String(1000), nullable=False),
                sa.Column("workload", sa.String(200), nullable=False),
                sa.Column("backend", sa.String(64), nullable=False),
                sa.Column("precision", sa.String(32), nullable=False),
                sa.Column("pruning", sa.String(64), nullable=False),
                sa.Column("params_json", sa.Text, nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("reason", sa.Text),
                sa.Column("stderr_tail", sa.Text),
                sa.Column("implementation", sa.Text),
                sa.Column("timed_window", sa.Text),
                sa.Column("started_at", sa.Float),
                sa.Column("duration_s", sa.Float),
                sa.Column("work_json", sa.Text),
                sa.Column("env_json", sa.Text),
                sa.Column("details_json", sa.Text),
                sa.Column("warnings_json", sa.Text),
                sa.UniqueConstraint("run_id", "board", "job_key", name="uq_job"))
sa.Index("ix_jobs_series", jobs.c.board, jobs.c.workload, jobs.c.precision, jobs.c.pruning)

metrics = sa.Table("metrics", metadata,
                   sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
                   sa.Column("name", sa.String(200), primary_key=True),
                   sa.Column("value", sa.Float),
                   sa.Column("unit", sa.String(32), nullable=False),
                   sa.Column("scope", sa.String(32)),
                   sa.Column("source", sa.Text),
                   sa.Column("detail", sa.Text),
                   sa.Column("unavailable_reason", sa.Text))

#: v2: one metric across all jobs (history, the published site) is read through this covering index
#: instead of visiting every job's primary-key entry and then the table row
ix_metrics_name = sa.Index("ix_metrics_name", metrics.c.name, metrics.c.job_id, metrics.c.value)

raw = sa.Table("raw", metadata,
               sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), primary_key=True),
               sa.Column("kind", sa.String(200), primary_key=True),
               sa.Column("encoding", sa.String(32), nullable=False),  # "json+zlib"
               sa.Column("data", sa.LargeBinary, nullable=False))



def _v1_to_v2(conn: Connection) -> None:
    ix_metrics_name.create(conn, checkfirst=True)


#: version N → function migrating a database at version N to N+1
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2}
