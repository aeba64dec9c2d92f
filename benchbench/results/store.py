"""The results store: SQLAlchemy Core over SQLite (default file) or any SQLAlchemy URL.

Each job is written in its own transaction as soon as it arrives; a job already stored for
(run, board, job_key) is not written twice, which makes reconciling and resuming idempotent.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from ..errors import StoreError
from . import schema as s
from .dburl import mask_url, redact, to_url
from .records import BoardInfo, JobRecord, Metric, RunData, RunInfo, Warning_

log = logging.getLogger(__name__)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":")).encode(), 6)


def unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


class Store:
    """``readonly``: for commands that only read (report, compare, history, export, publish): nothing is
    created or migrated, and a SQLite file that does not exist is an error instead of a new empty file."""

    def __init__(self, db: str | Path, *, readonly: bool = False) -> None:
        self.url = to_url(db)
        #: the URL as it may be shown (passwords masked): the only form that reaches messages and output
        self.display_url = mask_url(self.url)
        self.readonly = readonly
        try:
            url = sa.engine.make_url(self.url)
            if getattr(url.get_dialect(), "is_async", False):
                raise StoreError(f"cannot open results database {self.display_url}: asyncio drivers "
                                 f"({url.drivername}) are not supported",
                                 hint="use a synchronous driver, e.g. postgresql+psycopg://…")
            self.engine = self._engine(url)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            if readonly:
                with self.engine.connect() as conn:
                    self._schema_version(conn)
            else:
                self._migrate()
        except ImportError as exc:
            raise StoreError(f"cannot open results database {self.display_url}: its database driver is not "
                             f"installed (no module {exc.name or '?'})",
                             hint="install the driver for this URL, or use SQLite or "
                                  "postgresql+psycopg") from None
        except (SQLAlchemyError, ValueError, TypeError) as exc:
            raise StoreError(f"cannot open results database {self.display_url}: {self._short(exc)}",
                             hint="check the --db path/URL and that its directory is writable") from None

    def _engine(self, url: sa.engine.URL) -> sa.engine.Engine:
        if not (self.readonly and url.get_backend_name() == "sqlite"):
            return sa.create_engine(url, future=True)
        path = url.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise StoreError(f"no results database at {self.display_url}",
                             hint="check --db; `benchbench run` creates one")
        uri = "file:" + quote(str(Path(path).resolve())) + "?mode=ro"
        return sa.create_engine("sqlite://",
                                creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
                                future=True)

    def _safe_url(self) -> str:
        return self.display_url

    def _short(self, exc: BaseException) -> str:
        return redact(_short(exc), self.url)

    def no_run(self, run_id: str) -> StoreError:
        """The error for a run this database does not hold."""
        return StoreError(f"no run {run_id!r} in {self._safe_url()}",
                          hint="`benchbench report --list` shows the stored runs")

    def read_error(self, exc: BaseException) -> StoreError:
        """The error for a failed read (first line of the driver's message, the URL's password masked)."""
        return StoreError(f"cannot read results: {self._short(exc)}")

    def _schema_version(self, conn: sa.Connection) -> int | None:
        """This database's benchbench schema version; None for an empty database. A database holding other
        programs' tables is refused: benchbench never writes its schema next to them."""
        tables = set(sa.inspect(conn).get_table_names())
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.display_url} is an empty database, not a benchbench results "
                                 "database", hint="check --db; `benchbench run` creates one")
            return None
        row = None
        if "meta" in tables:
            try:
                row = conn.execute(sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")).first()
            except SQLAlchemyError:
                row = None
        if row is None and not self.readonly and self._ours_half_made(conn, tables):
            return None  # another controller is creating the schema right now (SQLite DDL autocommits)
        if row is None or not str(row[0]).isdigit():
            shown = ", ".join(sorted(tables)[:5]) + (" …" if len(tables) > 5 else "")
            raise StoreError(f"{self.display_url} is not a benchbench results database (it holds other "
                             f"tables: {shown}); refusing to touch it",
                             hint="give --db a new file or an empty database")
        version = int(row[0])
        if version > s.SCHEMA_VERSION:
            raise StoreError(f"database {self.display_url} has schema v{version}; this benchbench "
                             f"understands up to v{s.SCHEMA_VERSION}", hint="upgrade benchbench")
        return version

    def _migrate(self) -> None:
        """Create or upgrade the schema. Controllers opening a new shared database at the same moment race
        to create it (PostgreSQL: duplicate type/relation; SQLite: table already exists; both: a second
        version row): the loser retries and finds the schema in place."""
        for attempt in range(5):
            try:
                self._migrate_once()
                return
            except (IntegrityError, OperationalError, ProgrammingError) as exc:
                if attempt == 4:
                    raise
                log.debug("schema creation raced another controller (%s); retrying", self._short(exc))
                time.sleep(0.05 * (attempt + 1))

    @staticmethod
    def _ours_half_made(conn: sa.Connection, tables: set[str]) -> bool:
        """Only our tables, each with exactly our columns: a schema being created, not a foreign one."""
        if not tables <= set(s.metadata.tables):
            return False
        insp = sa.inspect(conn)
        return all({c["name"] for c in insp.get_columns(t)} == set(s.metadata.tables[t].columns.keys())
                   for t in tables)

    def _migrate_once(self) -> None:
        with self.engine.begin() as conn:
            version = self._schema_version(conn)
            if version is None:
                s.metadata.create_all(conn)  # checkfirst: a racing controller's tables are kept
                conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION)))
                return
            while version < s.SCHEMA_VERSION:
                log.info("migrating results schema v%d → v%d", version, version + 1)
                s.MIGRATIONS[version](conn)
                version += 1
                conn.execute(s.meta.update().where(s.meta.c.key == "schema_version")
                             .values(value=str(version)))

    # -- writing ----------------------------------------------------------------------------------------
    def create_run(self, run_id: str, suite_name: str, suite_file: str | None, suite_hash: str | None,
                   tool_version: str, controller: dict[str, Any], plan: dict[str, Any],
                   started_at: float | None = None) -> None:
        """``started_at`` (unix s) defaults to now; imports pass the time the results were measured."""
        self._write(s.runs.insert().values(
            run_id=run_id, started_at=time.time() if started_at is None else started_at, status="running",
            suite_name=suite_name,
            suite_file=suite_file, suite_hash=suite_hash, tool_version=tool_version,
            controller_json=_dumps(controller), plan_json=_dumps(plan)))

    def finish_run(self, run_id: str, status: str) -> None:
        self._write(s.runs.update().where(s.runs.c.run_id == run_id).values(status=status,
                                                                             finished_at=time.time()))

    def record_board(self, run_id: str, board: str, snapshot: dict[str, Any] | None = None,
                     overhead: dict[str, Any] | None = None, status: str | None = None,
                     reason: str | None = None) -> None:
        """Insert or update a board row; None fields are left as they are."""
        values = {"snapshot_json": _dumps(snapshot) if snapshot is not None else None,
                  "overhead_json": _dumps(overhead) if overhead else None,
                  "status": status, "reason": reason}
        try:
            with self.engine.begin() as conn:
                found = conn.execute(sa.select(s.boards.c.board).where(
                    (s.boards.c.run_id == run_id) & (s.boards.c.board == board))).first()
                if found:
                    upd = {k: v for k, v in values.items() if v is not None}
                    conn.execute(s.boards.update().where((s.boards.c.run_id == run_id)
                                                         & (s.boards.c.board == board)).values(**upd))
                else:
                    values["snapshot_json"] = values["snapshot_json"] or "{}"
                    conn.execute(s.boards.insert().values(run_id=run_id, board=board, **values))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to {self._safe_url()}: {self._short(exc)}") from None

    def add_job(self, rec: JobRecord) -> bool:
        """Store one job with its metrics and raw values in one transaction. False if already stored."""
        try:
            with self.engine.begin() as conn:
                job_id = conn.execute(s.jobs.insert().values(
                    run_id=rec.run_id, board=rec.board, job_key=rec.job_key, workload=rec.workload,
                    backend=rec.backend, precision=rec.precision, pruning=rec.pruning,
                    params_json=_dumps(rec.params), status=rec.status, reason=rec.reason,
                    stderr_tail=rec.stderr_tail, implementation=rec.implementation,
                    timed_window=rec.timed_window, started_at=rec.started_at, duration_s=rec.duration_s,
                    work_json=_dumps(rec.work), env_json=_dumps(rec.env), details_json=_dumps(rec.details),
                    warnings_json=_dumps([w.__dict__ for w in rec.warnings]))).inserted_primary_key
                assert job_id is not None
                job_id = job_id[0]
                if rec.metrics:
                    conn.execute(s.metrics.insert(), [dict(job_id=job_id, **m.__dict__) for m in rec.metrics])
                if rec.raw:
                    conn.execute(s.raw.insert(), [{"job_id": job_id, "kind": k, "encoding": "json+zlib",
                                                   "data": pack(v)}
                                                  for k, v in rec.raw.items()])
            return True
        except IntegrityError as exc:
            # only "this job is already stored" is a benign duplicate (resume, reconcile, two controllers);
            # any other constraint failure (e.g. a repeated metric name) would silently drop a measurement
            if (rec.board, rec.job_key) in self.stored_job_keys(rec.run_id):
                return False
            raise StoreError(f"cannot store job {rec.job_key} of {rec.board}: {self._short(exc)}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write job {rec.job_key} to {self._safe_url()}: "
                             f"{self._short(exc)}") from None

    def forget_jobs(self, run_id: str, statuses: tuple[str, ...]) -> int:
        """Delete a run's jobs with these statuses (e.g. ``skipped`` before a resume retries them)."""
        try:
            with self.engine.begin() as conn:
                ids = [r[0] for r in conn.execute(sa.select(s.jobs.c.id).where(
                    (s.jobs.c.run_id == run_id) & s.jobs.c.status.in_(statuses)))]
                if ids:
                    conn.execute(s.metrics.delete().where(s.metrics.c.job_id.in_(ids)))
                    conn.execute(s.raw.delete().where(s.raw.c.job_id.in_(ids)))
                    conn.execute(s.jobs.delete().where(s.jobs.c.id.in_(ids)))
                return len(ids)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to {self._safe_url()}: {self._short(exc)}") from None

    def _write(self, stmt: Any) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to {self._safe_url()}: {self._short(exc)}") from None

    # -- reading ----------------------------------------------------------------------------------------
    def list_runs(self) -> list[RunInfo]:
        counts = sa.select(s.jobs.c.run_id, sa.func.count().label("n")).group_by(s.jobs.c.run_id).subquery()
        q = (sa.select(s.runs, counts.c.n).outerjoin(counts, counts.c.run_id == s.runs.c.run_id)
             .order_by(s.runs.c.started_at.desc(), s.runs.c.run_id.desc()))
        with self.engine.connect() as conn:
            return [run_info(r._mapping) for r in conn.execute(q)]

    def latest_run_id(self) -> str | None:
        runs = self.list_runs()
        return runs[0].run_id if runs else None

    def stored_job_keys(self, run_id: str) -> set[tuple[str, str]]:
        q = sa.select(s.jobs.c.board, s.jobs.c.job_key).where(s.jobs.c.run_id == run_id)
        with self.engine.connect() as conn:
            return {(r.board, r.job_key) for r in conn.execute(q)}

    def run_plan(self, run_id: str) -> dict[str, Any]:
        """What the run was asked to do (invocation + job keys per board), for ``--resume``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.runs.c.plan_json).where(s.runs.c.run_id == run_id)).first()
        if row is None:
            raise self.no_run(run_id)
        return json.loads(row[0]) if row[0] else {}

    def load_run(self, run_id: str, with_raw: bool = True) -> RunData:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)).first()
            if row is None:
                raise self.no_run(run_id)
            brows = conn.execute(sa.select(s.boards).where(s.boards.c.run_id == run_id)).all()
            jrows = conn.execute(sa.select(s.jobs).where(s.jobs.c.run_id == run_id)
                                 .order_by(s.jobs.c.id)).all()
            ids = [j.id for j in jrows]
            m = s.metrics.c
            # explicit columns + positional construction: Row._mapping per metric row cost ~40 % of a load
            mrows = (conn.execute(sa.select(m.job_id, m.name, m.value, m.unit, m.scope, m.source, m.detail,
                                            m.unavailable_reason).where(m.job_id.in_(ids))).all()
                     if ids else [])
            rrows = (conn.execute(sa.select(s.raw).where(s.raw.c.job_id.in_(ids))).all()
                     if ids and with_raw else [])
        by_job: dict[int, list[Metric]] = {}
        for job_id, *fields in mrows:
            by_job.setdefault(job_id, []).append(Metric(*fields))
        raws: dict[int, dict[str, Any]] = {}
        for r in rrows:
            raws.setdefault(r.job_id, {})[r.kind] = unpack(r.data)
        jobs = tuple(_job_record(j._mapping, by_job.get(j.id, []), raws.get(j.id, {})) for j in jrows)
        return RunData(info=run_info(row._mapping, len(jobs)), boards=tuple(board_info(b) for b in brows),
                       jobs=jobs)


def run_info(m: Any, n: int | None = None) -> RunInfo:
    """A runs row (its mapping) as :class:`RunInfo`; ``n`` jobs, else the row's ``n`` column."""
    return RunInfo(run_id=m["run_id"], started_at=m["started_at"], finished_at=m["finished_at"],
                   status=m["status"], suite_name=m["suite_name"], suite_file=m["suite_file"],
                   tool_version=m["tool_version"], controller=json.loads(m["controller_json"]),
                   n_jobs=n if n is not None else int(m.get("n") or 0))


def board_info(b: Any) -> BoardInfo:
    """A boards row as :class:`BoardInfo`."""
    return BoardInfo(run_id=b.run_id, board=b.board, snapshot=json.loads(b.snapshot_json),
                     overhead=json.loads(b.overhead_json) if b.overhead_json else None, status=b.status,
                     reason=b.reason)


def _job_record(m: Any, metrics: list[Metric], raw: dict[str, Any]) -> JobRecord:
    return JobRecord(
        run_id=m["run_id"], board=m["board"], job_key=m["job_key"], workload=m["workload"],
        backend=m["backend"], precision=m["precision"], pruning=m["pruning"],
        params=json.loads(m["params_json"]), status=m["status"], reason=m["reason"],
        stderr_tail=m["stderr_tail"], implementation=m["implementation"], timed_window=m["timed_window"],
        started_at=m["started_at"], duration_s=m["duration_s"], work=json.loads(m["work_json"] or "{}"),
        env=json.loads(m["env_json"] or "{}"), details=json.loads(m["details_json"] or "{}"),
        metrics=tuple(sorted(metrics, key=lambda x: x.name)),
        warnings=tuple(Warning_(**w) for w in json.loads(m["warnings_json"] or "[]")), raw=raw)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")  # a report reading while a run writes waits, not fails
    cur.close()


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]
