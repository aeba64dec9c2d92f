"""A :class:`RunPlan` executed, readable in one screen:

open the run in the store → per board, in parallel (``transport.fleet.fan_out``): connect (taking the
board's lab lease on PostgreSQL) → deploy agent + artifacts → run the agent (one job at a time) → store each
job as its line arrives → pull the results file and store anything missed → finish the run. The report is
the caller's.
"""

from __future__ import annotations

import logging
import os
import platform
import posixpath
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..agent.protocol import RunRequest, SamplingPlan
from ..deploy.agent_build import build_agent
from ..deploy.recover import stop_leftover_agent
from ..deploy.remote import deploy_files, make_run_dir
from ..errors import AgentError, BoardBusy, DeployError, TransportError
from ..ingest.lines import LineHandler
from ..ingest.records import failed_record
from ..results.store import Store
from ..transport.base import Transport
from ..transport.fleet import BoardResult, fan_out
from ..variant_groups import assign_groups
from ..workloads.plan import PlannedJob
from ..workloads.providers import with_board_providers
from .plan import RunPlan, stored_plan
from .targets import BoardTarget

log = logging.getLogger(__name__)


class Events(Protocol):
    def __call__(self, kind: str, board: str, **data: Any) -> None: ...


def _no_events(kind: str, board: str, **data: Any) -> None:
    pass


@dataclass
class BoardOutcome:
    board: str
    stored: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    interrupted: bool = False


def controller_snapshot() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "benchbench": __version__, "cpu_count": os.cpu_count()}


class Run:
    """One plan's measurement; ``outcomes`` fills in as boards start (after an interrupt: what was stored)."""

    def __init__(self, store: Store, plan: RunPlan, cache_dir: Path, events: Events = _no_events) -> None:
        self.store, self.plan, self.suite = store, plan, plan.suite
        self.run_id, self.resuming = plan.run_id, plan.resuming
        self.cache_dir, self.events = cache_dir, events
        self.outcomes: list[BoardOutcome] = []
        self._by_board: dict[str, BoardOutcome] = {}
        self._todo: dict[str, list[PlannedJob]] = {}
        self._stop = threading.Event()

    def execute(self) -> list[BoardOutcome]:
        """Every board of the plan; the run is marked complete, interrupted (Ctrl-C) or failed."""
        leases = self._leases()  # before the run is stored: an unusable lab queue fails first
        try:
            self._open_run()
            done = self.store.stored_job_keys(self.run_id)
            targets = [leases.wrap(t) if leases is not None else t for t in self.plan.targets]
            todo = {t.name: [j for j in self.plan.jobs[t.name] if (t.name, j.spec.job_key) not in done]
                    for t in targets}
            status = "failed"
            try:
                outcomes = self._boards(todo, targets)
                status = "complete" if not any(o.interrupted for o in outcomes) else "interrupted"
                return outcomes
            except KeyboardInterrupt:  # fan_out stopped the agents and let the boards store what finished
                status = "interrupted"
                raise
            finally:
                self.store.finish_run(self.run_id, status)
        finally:
            if leases is not None:
                leases.close()

    def _open_run(self) -> None:
        plan = self.plan
        if plan.resuming:
            # boards that were unreachable last time get another chance; measured jobs are kept
            self.store.forget_jobs(self.run_id, ("skipped",))
            return
        self.store.create_run(self.run_id, self.suite.name, plan.suite_file, plan.suite_hash, __version__,
                              controller_snapshot(), stored_plan(plan.invocation, plan.jobs))

    def run_board(self, target: BoardTarget) -> BoardOutcome:
        """The plan's jobs for one board of an existing run, without the run's bookkeeping (a lab worker's
        batch)."""
        return self._boards({target.name: self.plan.jobs[target.name]}, [target])[0]

    def interrupt(self) -> None:
        """Stop from another thread: fan_out closes the boards' transports, which kills their agents; the
        boards store what finished."""
        self._stop.set()

    def _boards(self, jobs: dict[str, list[PlannedJob]], targets: list[BoardTarget]) -> list[BoardOutcome]:
        outcomes = [self._start(t, jobs[t.name]) for t in targets]
        busy = [t for t in targets if self._todo[t.name]]
        for t in targets:
            if not self._todo[t.name]:
                self.events("board_done", t.name, outcome=self._by_board[t.name])
        res = fan_out(busy, self._measure, connect=lambda t: t.connect(), on_done=self._done, stop=self._stop)
        for r in res.results:  # a bug or a failing store fails the run (once every board has finished)
            if r.error is not None and not isinstance(r.error, TransportError):
                raise r.error
        return outcomes

    def _start(self, target: BoardTarget, jobs: list[PlannedJob]) -> BoardOutcome:
        out = BoardOutcome(board=target.name)
        self.outcomes.append(out)
        self._by_board[target.name] = out
        self.events("board_start", target.name, total=len(jobs))
        # model variants that failed generation/validation on the controller: stored as failed, never timed
        for j in jobs:
            if j.precheck_failure:
                rec = failed_record(self.run_id, target.name, j, j.precheck_status, j.precheck_failure)
                self.store_record(rec, out)
        self._todo[target.name] = [j for j in jobs if not j.precheck_failure]
        return out

    def _measure(self, target: BoardTarget, transport: Transport) -> BoardOutcome:
        """fan_out's task: connected; fan_out closes the transport afterwards."""
        out, jobs = self._by_board[target.name], self._todo[target.name]
        if self._stop.is_set():  # connected just as the run was interrupted
            out.interrupted = True
            return out
        try:
            self._deploy_and_run(target, transport, jobs, out)
        except (TransportError, DeployError, AgentError) as exc:
            stored = self.store.stored_job_keys(self.run_id)
            self._board_failed(target.name, [j for j in jobs if (target.name, j.spec.job_key) not in stored],
                               str(exc))
        return out

    def _done(self, result: BoardResult[BoardOutcome]) -> None:
        """fan_out's callback, after the board's transport is closed."""
        out = self._by_board[result.board]
        if result.error is None:
            self.events("board_done", result.board, outcome=out)
        elif isinstance(result.error, BoardBusy):  # another controller has the board: its jobs are skipped
            self._board_failed(result.board, self._todo[result.board], str(result.error))
        elif isinstance(result.error, TransportError):
            self._board_failed(result.board, self._todo[result.board], f"connect failed: {result.error}")

    def _board_failed(self, board: str, jobs: list[PlannedJob], reason: str) -> None:
        """The board's unmeasured jobs are stored as skipped with the reason (not after an interrupt)."""
        out = self._by_board[board]
        out.error = reason
        if self._stop.is_set():
            out.interrupted = True
            return
        for j in jobs:
            self.store_record(failed_record(self.run_id, board, j, "skipped", reason), out)
        self.store.record_board(self.run_id, board, status="failed", reason=reason)

    def _leases(self) -> Any:
        """On a shared PostgreSQL store, each fleet board's lab lease is taken as it is connected."""
        if not self.plan.fleet:
            return None
        from ..lab.engine import is_postgres
        if not is_postgres(self.store.url):
            return None
        from ..lab.lease import BoardLeases
        return BoardLeases(self.store.url, wait=self.plan.wait, cancelled=self._stop)  # Ctrl-C ends a wait

    def _deploy_and_run(self, t: BoardTarget, tr: Transport, jobs: list[PlannedJob],
                        out: BoardOutcome) -> None:
        agent = build_agent(self.cache_dir / "agent")
        self.events("deploy", t.name)
        sync = deploy_files(tr, t.python, t.work_dir, {agent.remote_name: agent.path},
                            hashes={agent.remote_name: agent.sha256})
        arts = {p.name: p for j in jobs for p in j.artifacts()}
        art_dir = posixpath.join(sync.remote_dir, "artifacts")
        if arts:
            deploy_files(tr, t.python, art_dir, arts)
        run_dir = make_run_dir(tr, t.python, posixpath.join(sync.remote_dir, "runs"), self.run_id)
        by_key = {j.spec.job_key: j for j in jobs}
        results_path = posixpath.join(run_dir, "results.jsonl")
        handler = LineHandler(self, t.name, by_key, out, t.headline_channel, t.profile_facts)
        if self.resuming:
            # a controller that died left the agent running: stop it, keep what it finished since
            stop_leftover_agent(tr, t.python, run_dir)
            self._reconcile(tr, t.name, results_path, handler, missing_ok=True)
            stored = self.store.stored_job_keys(self.run_id)
            jobs = [j for j in jobs if (t.name, j.spec.job_key) not in stored]
            if not jobs:
                return
        # the board's provider preference goes to the agent only; keys and stored params stay the suite's
        # the variants of one model are measured interleaved (grouped on the planned params, before providers)
        specs = [with_board_providers(s, t.providers) for s in assign_groups([j.spec for j in jobs])]
        sampling = self.suite.sampling
        req = RunRequest(run_id=self.run_id, board=t.name, jobs=specs,
                         sampling=SamplingPlan(interval_s=sampling.interval_s,
                                               families=list(sampling.families or t.sampling_families),
                                               root=t.sampling_root,
                                               measure_overhead=sampling.measure_overhead))
        with tempfile.TemporaryDirectory() as tmp:
            local_req = Path(tmp) / "request.json"
            local_req.write_text(req.to_json())
            tr.put(local_req, posixpath.join(run_dir, "request.json"), mode=0o600)
        timeout_s = sum(j.spec.timeout_s for j in jobs) + 120
        self.events("running", t.name, total=len(jobs))
        try:
            res = tr.run([t.python, posixpath.join(sync.remote_dir, agent.remote_name), "run", "--request",
                          posixpath.join(run_dir, "request.json"), "--results", results_path,
                          "--artifacts", art_dir], timeout_s=timeout_s, on_stdout_line=handler)
        finally:
            self._reconcile(tr, t.name, results_path, handler)
        handler.raise_first()
        if handler.end_status == "interrupted" or self._stop.is_set():
            out.interrupted = True
        elif not res.ok:
            raise AgentError(f"{t.name}: agent exited with status {res.exit_code}: "
                             f"{res.stderr_tail.strip()[-500:]}")

    def _reconcile(self, tr: Transport, board: str, results_path: str, handler: LineHandler,
                   missing_ok: bool = False) -> None:
        """Pull the board's results file and store any job whose stdout line was lost."""
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "results.jsonl"
            try:
                tr.get(results_path, local)
            except TransportError as exc:
                if not missing_ok:
                    log.warning("%s: could not pull %s: %s", board, results_path, exc)
                return
            for line in local.read_text().splitlines():
                handler(line, from_file=True)

    def store_record(self, rec: Any, out: BoardOutcome) -> None:
        if self.store.add_job(rec):
            out.stored += 1
            out.statuses[rec.status] = out.statuses.get(rec.status, 0) + 1
            self.events("job_done", rec.board, record=rec)


def summarize(outcomes: list[BoardOutcome]) -> dict[str, int]:
    total: dict[str, int] = {}
    for o in outcomes:
        for k, v in o.statuses.items():
            total[k] = total.get(k, 0) + v
    return total


