"""Board leases for ``benchbench run`` on a PostgreSQL results database.

A lease is a procrastinate job carrying the board's lock, in a queue of its own that no worker serves: this
controller registers as an engine worker (so it heart-beats like one) and fetches the job itself. The engine
hands it out only when no other job with that lock is ``doing`` and none is queued before it — the same rule
that keeps lab workers apart — so a hand-started run and a worker never measure one board at once. Without
``wait`` a busy board is skipped with the reason ``busy: <controller> since <time>``.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import BoardBusy
from ..pipeline.targets import BoardTarget
from ..transport.base import CommandResult, LineCallback, Transport
from .engine import (
    LEASE_TASK,
    QUEUE_SCHEMA,
    board_lock,
    conninfo,
    default_controller_name,
    ensure_schema,
    sync_app,
)
from .recovery import recover_stalled

log = logging.getLogger(__name__)


def holder(conn: Any, board: str) -> str:
    """Who has the board now, as the skip reason says it."""
    row = conn.execute(
        f"SELECT a.controller, a.since FROM procrastinate_jobs j JOIN {QUEUE_SCHEMA}.bb_activity a "
        "ON a.job_id = j.id WHERE j.lock = %s AND j.status = 'doing' ORDER BY a.since DESC LIMIT 1",
        (board_lock(board),)).fetchone()
    if row is not None:
        return f"busy: {row[0]} since {row[1].astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}"
    queued = conn.execute("SELECT count(*) FROM procrastinate_jobs "
                          "WHERE lock = %s AND status IN ('todo', 'doing')",
                          (board_lock(board),)).fetchone()[0]
    return f"busy: {max(0, int(queued) - 1)} lab queue job(s) of this board are ahead"


class BoardLeases:
    """Leases for one controller; ``wrap`` a target so connecting takes its lease and closing returns it."""

    def __init__(self, url: str, *, wait: bool = False, controller: str | None = None,
                 heartbeat_s: float = 5.0, stalled_s: float = 30.0, poll_s: float = 0.5,
                 cancelled: threading.Event | None = None) -> None:
        """``cancelled``: set when the run is interrupted; a board still waiting for its lease gives up."""
        import psycopg
        self.url, self.wait, self.controller = url, wait, controller or default_controller_name()
        self.heartbeat_s, self.stalled_s, self.poll_s = heartbeat_s, stalled_s, poll_s
        ensure_schema(url)
        from procrastinate.sql import queries
        self._q = queries
        self.conn = psycopg.connect(conninfo(url), autocommit=True)
        row = self.conn.execute(queries["register_worker"]).fetchone()
        assert row is not None  # the function returns the new worker's id
        self.worker_id = int(row[0])
        self.app = sync_app(url)
        self.app.open()
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cancelled = cancelled or threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self.conn.execute(self._q["update_heartbeat"], {"worker_id": self.worker_id})

    def acquire(self, board: str) -> int:
        recover_stalled(self.conn, self.stalled_s)
        queue = f"bb-lease-{secrets.token_hex(8)}"
        job_id = int(self.app.configure_task(LEASE_TASK, lock=board_lock(board), queue=queue).defer(
            board=board, controller=self.controller, worker_id=self.worker_id))
        announced = False
        last_recovery = time.monotonic()
        while True:
            row = self.conn.execute(self._q["fetch_job"],
                                    {"queues": [queue], "worker_id": self.worker_id}).fetchone()
            if row is not None and row[0] is not None:
                break
            if not self.wait or self._cancelled.is_set():
                reason = holder(self.conn, board)
                self.conn.execute(self._q["cancel_job"],
                                  {"job_id": job_id, "abort": False, "delete_job": True})
                raise BoardBusy(reason)
            if not announced:
                log.warning("%s: %s; waiting for it (--wait)", board, holder(self.conn, board))
                announced = True
            if time.monotonic() - last_recovery > self.stalled_s / 2:
                recover_stalled(self.conn, self.stalled_s)
                last_recovery = time.monotonic()
            time.sleep(self.poll_s)
        self.conn.execute(f"INSERT INTO {QUEUE_SCHEMA}.bb_activity (job_id, board, controller) "
                          "VALUES (%s, %s, %s)", (job_id, board, self.controller))
        with self._lock:
            self._held[board] = job_id
        log.info("%s: leased (engine job %d)", board, job_id)
        return job_id

    def release(self, board: str) -> None:
        with self._lock:
            job_id = self._held.pop(board, None)
        if job_id is None:
            return
        self.conn.execute(self._q["finish_job"],
                          {"job_id": job_id, "status": "succeeded", "delete_job": False})
        self.conn.execute(f"UPDATE {QUEUE_SCHEMA}.bb_activity SET finished_at = now(), outcome = 'done' "
                          "WHERE job_id = %s", (job_id,))

    def wrap(self, target: BoardTarget) -> BoardTarget:
        def connect() -> Transport:
            self.acquire(target.name)
            try:
                return _Leased(target.connect(), lambda: self.release(target.name))
            except BaseException:
                self.release(target.name)
                raise
        return dataclasses.replace(target, connect=connect)

    def close(self) -> None:
        for board in list(self._held):
            self.release(board)
        self._stop.set()
        self._beat.join(timeout=self.heartbeat_s + 5)
        self.conn.execute(self._q["unregister_worker"], {"worker_id": self.worker_id})
        self.app.close()
        self.conn.close()


class _Leased:
    """A board transport whose close also returns the board's lease."""

    def __init__(self, inner: Transport, on_close: Any) -> None:
        self.inner, self._on_close = inner, on_close
        self.name = inner.name

    def run(self, argv: Sequence[str], *, timeout_s: float | None = None,
            on_stdout_line: LineCallback | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None) -> CommandResult:
        return self.inner.run(argv, timeout_s=timeout_s, on_stdout_line=on_stdout_line, env=env, stdin=stdin)

    def put(self, local: Path, remote: str, *, mode: int = 0o644) -> None:
        self.inner.put(local, remote, mode=mode)

    def get(self, remote: str, local: Path) -> None:
        self.inner.get(remote, local)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self._on_close()
