"""The task-queue engine: procrastinate on the results database's PostgreSQL server.

Its tables live in their own PostgreSQL schema (``benchbench_queue``) so the results schema stays alone in
``public`` (the store refuses a database holding foreign tables next to its own). Every task that touches a
board carries the board's lock: procrastinate lets at most one job per lock be ``doing`` (a unique index),
which is the board lease across controllers. Each board has its own queue, so a worker only fetches jobs for
boards it can reach.
"""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

import sqlalchemy as sa

from ..errors import ConfigError, StoreError
from ..results.dburl import mask_url, redact, to_url

QUEUE_SCHEMA = "benchbench_queue"
BATCH_TASK = "benchbench.measure_batch"
LEASE_TASK = "benchbench.board_lease"
#: pg_advisory_xact_lock key serialising schema creation between controllers ("bbqueue" in ASCII)
_SCHEMA_LOCK = 0x6262717565756500

#: who ran which engine job, for ``benchbench queue`` and "busy: <controller> since <time>"
_ACTIVITY_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUEUE_SCHEMA}.bb_activity (
    job_id bigint PRIMARY KEY,
    run_id text,
    board text NOT NULL,
    controller text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text
)"""


def board_lock(board: str) -> str:
    return f"benchbench-board:{board}"


def board_queue(board: str) -> str:
    # LISTEN channel names are identifiers (63 bytes): long board names are hashed
    name = f"bb-board-{board}"
    return name if len(name.encode()) <= 40 else "bb-board-" + hashlib.sha256(board.encode()).hexdigest()[:20]


def default_controller_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def require_postgres(db: str, flag: str = "--db") -> str:
    """The SQLAlchemy URL of ``db`` if it is PostgreSQL; else a ConfigError (exit 2) saying why."""
    url = to_url(db)
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(f"not a database URL: {mask_url(url)}", key=flag) from None
    if backend != "postgresql":
        raise ConfigError(f"{mask_url(url)} is {backend}: a shared lab queue needs PostgreSQL", key=flag,
                          hint="give --db postgresql+psycopg://user@host/db (SQLite is for one machine: "
                               "`benchbench run`)")
    return url


def is_postgres(db: str) -> bool:
    try:
        return sa.engine.make_url(to_url(db)).get_backend_name() == "postgresql"
    except (sa.exc.ArgumentError, ValueError):
        return False


def conninfo(url: str) -> str:
    """A libpq connection string for the SQLAlchemy URL, with the queue schema first on the search path."""
    from psycopg.conninfo import make_conninfo
    u = sa.engine.make_url(url)
    kw: dict[str, Any] = {k: (v[-1] if isinstance(v, tuple) else v) for k, v in u.query.items()}
    for key, value in (("host", u.host), ("port", u.port), ("user", u.username), ("password", u.password),
                       ("dbname", u.database)):
        if value is not None:
            kw.setdefault(key, str(value))
    kw["options"] = f"-c search_path={QUEUE_SCHEMA}"
    return make_conninfo("", **kw)


def ensure_schema(url: str) -> None:
    """Create the queue schema once; controllers racing to create it take turns on an advisory lock."""
    import psycopg
    from procrastinate.schema import SchemaManager
    try:
        with psycopg.connect(conninfo(url)) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {QUEUE_SCHEMA}")
            row = conn.execute(f"SELECT to_regclass('{QUEUE_SCHEMA}.procrastinate_jobs')").fetchone()
            if row is None or row[0] is None:
                conn.execute(SchemaManager.get_schema())
            conn.execute(_ACTIVITY_DDL)
    except psycopg.Error as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"cannot set up the lab queue in {mask_url(url)}: {redact(why, url)}") from None


def sync_app(url: str) -> Any:
    """A procrastinate App for deferring and inspecting (synchronous psycopg pool)."""
    from procrastinate import App, SyncPsycopgConnector
    return App(connector=SyncPsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=2))


def async_app(url: str, max_connections: int = 3) -> Any:
    """A procrastinate App for a worker (asyncio psycopg pool: fetch, finish, heartbeat, LISTEN)."""
    from procrastinate import App, PsycopgConnector
    return App(connector=PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=max_connections))
