"""``benchbench worker``: a long-running controller that drains the lab queue for the boards it can reach.

Each engine job is a batch of one run's jobs on one board, run through the ordinary pipeline (``Run`` with
resume semantics: stop an agent a lost controller left on the board, store what it finished, then deploy,
run the agent and ingest as ``benchbench run`` does). The engine job holds the board's lock while it runs.
A stop (SIGTERM) interrupts the batches in flight like Ctrl-C interrupts a run — agents stopped, finished jobs
stored — and their engine jobs go back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.suite import Suite, load_suite
from ..errors import BenchbenchError
from ..pipeline import BoardOutcome, BoardTarget, Run, RunPlan, jobs_by_board
from ..results.records import JobRecord
from ..results.store import Store
from ..workloads.plan import PlannedJob
from .engine import BATCH_TASK, QUEUE_SCHEMA, async_app, board_queue, conninfo, ensure_schema
from .recovery import recover_stalled

log = logging.getLogger(__name__)


class BatchInterrupted(Exception):
    """The worker was stopped mid-batch: the engine puts the batch back in the queue."""


@dataclass(frozen=True)
class WorkerSettings:
    controller: str
    heartbeat_s: float = 5.0
    #: a controller silent this long is dead: its jobs are requeued (keep well above heartbeat_s)
    stalled_s: float = 30.0
    recover_every_s: float = 10.0
    #: fallback polling; LISTEN/NOTIFY wakes the worker as soon as a job is queued
    poll_s: float = 5.0
    max_attempts: int = 10


class _Batch(Run):
    """One engine job's share of a run; every stored job names the controller that measured it."""

    controller = ""

    def store_record(self, rec: JobRecord, out: BoardOutcome) -> None:
        rec = dataclasses.replace(rec, details={**rec.details, "controller": self.controller})
        super().store_record(rec, out)


@dataclass
class _RunJobs:
    suite: Suite
    suite_file: str
    suite_hash: str | None
    by_arch: dict[str | None, dict[str, PlannedJob]]


class LabWorker:
    def __init__(self, url: str, targets: list[BoardTarget], cache: Path, settings: WorkerSettings) -> None:
        self.url, self.cache, self.settings = url, cache, settings
        snap = {"controller": settings.controller}
        self.targets = {t.name: dataclasses.replace(t, profile_facts={**(t.profile_facts or {}), **snap})
                        for t in targets}
        self.store = Store(url)
        ensure_schema(url)
        self._runs: dict[str, _RunJobs] = {}
        self._runs_lock = threading.Lock()
        self._active: set[_Batch] = set()
        self._active_lock = threading.Lock()
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None
        self.batches_done = 0

    # -- lifecycle ---------------------------------------------------------------------------------------
    def run(self) -> None:
        asyncio.run(self._serve())

    def stop(self) -> None:
        """Stop taking jobs, interrupt the batches in flight; safe from a signal handler or another thread."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._active_lock:
            active = list(self._active)
        threading.Thread(target=self._interrupt, args=(active,), daemon=True).start()
        if self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)

    @staticmethod
    def _interrupt(active: list[_Batch]) -> None:
        for batch in active:
            batch.interrupt()  # kills the agent; the batch's thread stores what the board finished

    async def _serve(self) -> None:
        from procrastinate import RetryStrategy
        s = self.settings
        loop = asyncio.get_running_loop()
        self._loop = loop
        concurrency = max(1, min(len(self.targets), 32))
        # sync tasks run on the loop's default executor: one thread per board plus the recovery loop
        loop.set_default_executor(ThreadPoolExecutor(max_workers=concurrency + 4, thread_name_prefix="lab"))
        app = async_app(self.url)
        app.task(name=BATCH_TASK, pass_context=True,
                 retry=RetryStrategy(max_attempts=s.max_attempts,
                                     retry_exceptions={BatchInterrupted}))(self._batch)
        recovery = asyncio.create_task(self._recovery_loop())
        async with app.open_async():
            self._main = asyncio.create_task(app.run_worker_async(
                queues=[board_queue(b) for b in self.targets], name=s.controller, concurrency=concurrency,
                install_signal_handlers=False, update_heartbeat_interval=s.heartbeat_s,
                stalled_worker_timeout=s.stalled_s, fetch_job_polling_interval=s.poll_s,
                abort_job_polling_interval=max(s.poll_s, 5.0)))
            if self._stopping.is_set():
                self._main.cancel()
            try:
                await self._main
            except asyncio.CancelledError:
                pass  # stop(): procrastinate waited for the interrupted batches and requeued them
            finally:
                recovery.cancel()
        log.info("%s: stopped after %d batch(es)", s.controller, self.batches_done)

    async def _recovery_loop(self) -> None:
        import psycopg
        while True:
            try:
                await asyncio.to_thread(self._recover_once, psycopg)
            except psycopg.Error as exc:
                log.warning("stalled-job recovery: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.recover_every_s)

    def _recover_once(self, psycopg: Any) -> None:
        with psycopg.connect(conninfo(self.url), autocommit=True) as conn:
            recover_stalled(conn, self.settings.stalled_s)

    # -- one engine job ----------------------------------------------------------------------------------
    def _batch(self, context: Any, run_id: str, board: str, keys: list[str], **_: Any) -> dict[str, Any]:
        if self._stopping.is_set():
            raise BatchInterrupted(board)
        job_id = int(context.job.id)
        target = self.targets[board]
        self._activity(job_id, run_id, board)
        outcome = "failed"
        try:
            planned = self._planned(run_id, target)
            stored = self.store.stored_job_keys(run_id)
            jobs = []
            for key in keys:
                if (board, key) in stored:
                    continue
                if key in planned:
                    jobs.append(planned[key])
                else:  # submitted by another benchbench version: its job no longer exists here
                    log.error("%s: job %s is not in this controller's expansion of the suite", board, key)
            rj = self._runs[run_id]
            plan = RunPlan(run_id=run_id, resuming=True, suite=rj.suite, suite_file=rj.suite_file,
                           suite_hash=rj.suite_hash, targets=(target,), jobs={board: jobs})
            batch = _Batch(self.store, plan, self.cache, events=self._event)
            batch.controller = self.settings.controller
            out = BoardOutcome(board=board)
            with self._active_lock:
                self._active.add(batch)
            try:
                if self._stopping.is_set():
                    raise BatchInterrupted(board)
                if jobs:
                    out = batch.run_board(target)
            finally:
                with self._active_lock:
                    self._active.discard(batch)
            if out.interrupted:
                outcome = "interrupted"
                raise BatchInterrupted(board)
            outcome = "done" if not out.error else f"board failed: {out.error}"[:500]
            self.batches_done += 1
            return {"stored": out.stored, "statuses": out.statuses, "error": out.error}
        except BenchbenchError as exc:
            outcome = f"failed: {exc}"[:500]
            raise
        finally:
            self._finish(job_id, run_id, outcome)

    def _event(self, kind: str, board: str, **data: Any) -> None:
        if kind == "job_done":
            rec = data["record"]
            log.info("%s: %s %s [%s]", board, rec.workload, rec.precision, rec.status)

    def _activity(self, job_id: int, run_id: str, board: str) -> None:
        self._sql(f"INSERT INTO {QUEUE_SCHEMA}.bb_activity (job_id, run_id, board, controller) "
                  "VALUES (%s, %s, %s, %s) ON CONFLICT (job_id) DO UPDATE SET "
                  "controller = EXCLUDED.controller, since = now(), finished_at = NULL, outcome = NULL",
                  (job_id, run_id, board, self.settings.controller))

    def _finish(self, job_id: int, run_id: str, outcome: str) -> None:
        """Record the batch's end; the controller that ends a run's last batch marks the run complete."""
        if outcome == "interrupted":
            self._sql(f"UPDATE {QUEUE_SCHEMA}.bb_activity SET outcome = %s WHERE job_id = %s",
                      (outcome, job_id))
            return
        self._sql(f"UPDATE {QUEUE_SCHEMA}.bb_activity SET finished_at = now(), outcome = %s "
                  "WHERE job_id = %s", (outcome, job_id))
        import psycopg
        with psycopg.connect(conninfo(self.url)) as conn:  # one transaction: the advisory lock orders them
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"bb-run:{run_id}",))
            left = conn.execute(
                f"SELECT count(*) FROM procrastinate_jobs j LEFT JOIN {QUEUE_SCHEMA}.bb_activity a ON "
                "a.job_id = j.id WHERE j.args->>'run_id' = %s AND j.task_name = %s AND (j.status = 'todo' OR "
                "(j.status = 'doing' AND (a.finished_at IS NULL OR a.job_id IS NULL)))",
                (run_id, BATCH_TASK)).fetchone()
            if left is not None and int(left[0]) == 0:
                self.store.finish_run(run_id, "complete")
                log.info("run %s complete", run_id)

    def _sql(self, query: str, params: tuple[Any, ...]) -> None:
        import psycopg
        with psycopg.connect(conninfo(self.url), autocommit=True) as conn:
            conn.execute(query, params)

    def _planned(self, run_id: str, target: BoardTarget) -> dict[str, PlannedJob]:
        """The run's jobs for this board's CPU arch, rebuilt once per run from the suite text it was submitted
        with."""
        from ..workloads.plan import local_arch
        arch = target.arch or local_arch()
        with self._runs_lock:
            rj = self._runs.get(run_id)
            if rj is None:
                rj = self._runs[run_id] = self._load_run(run_id)
            if arch not in rj.by_arch:
                # the same planning step as ``run`` and ``submit``, for this board alone
                jobs = jobs_by_board(rj.suite, rj.suite_file, self.cache, {target.name: arch})[target.name]
                rj.by_arch[arch] = {j.spec.job_key: j for j in jobs}
            return rj.by_arch[arch]

    def _load_run(self, run_id: str) -> _RunJobs:
        plan = self.store.run_plan(run_id)
        queued = plan.get("queue") or {}
        text, original = str(queued.get("suite_yaml", "")), str(queued.get("suite_file", ""))
        digest = hashlib.sha256(text.encode()).hexdigest()
        path = Path(original)
        # the submitter's file when this machine has the same one (relative model paths keep working)
        if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
            path = self.cache / "lab-suites" / f"{digest[:16]}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return _RunJobs(load_suite(path), str(path), digest[:16], {})


__all__ = ["BatchInterrupted", "LabWorker", "WorkerSettings"]
