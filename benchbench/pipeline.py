"""The whole run, readable in one screen:

load suite → expand jobs (build artifacts) → open the store → per board, in parallel: open transport →
deploy agent + artifacts → run the agent (one job at a time) → store each job as its line arrives →
pull the results file and store anything missed → finish the run. The report is rendered by the caller.
"""

from __future__ import annotations

import logging
import os
import platform
import posixpath
import secrets
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from . import __version__
from .agent.protocol import RunRequest, SamplingPlan
from .config.suite import Suite
from .deploy.agent_build import build_agent
from .deploy.recover import stop_leftover_agent
from .deploy.remote import deploy_files, make_run_dir
from .errors import AgentError, BoardBusy, DeployError, TransportError
from .ingest.lines import LineHandler
from .ingest.records import failed_record
from .results.store import Store
from .transport.base import Transport
from .variant_groups import assign_groups
from .workloads.plan import PlannedJob
from .workloads.providers import with_board_providers

log = logging.getLogger(__name__)


class Events(Protocol):
    def __call__(self, kind: str, board: str, **data: Any) -> None: ...


def _no_events(kind: str, board: str, **data: Any) -> None:
    pass


@dataclass(frozen=True)
class BoardTarget:
    name: str
    connect: Callable[[], Transport]
    python: str = "python3"
    work_dir: str = "~/.cache/benchbench/board"
    sampling_families: tuple[str, ...] = ("cpufreq", "thermal", "memory", "rapl", "hwmon")
    sampling_root: str = "/"
    #: CPU architecture from the board's profile (None: unknown, the controller's is assumed for artifacts)
    arch: str | None = None
    #: the device profile's headline power channel (DeviceProfile.effective_headline): it, not the scope
    #: priority, picks the job's power.mean / energy.per_inference when the board reported it
    headline_channel: str | None = None
    #: the device profile's name, stored in the board snapshot (key ``profile``): reports look up its roofline peaks
    profile: str | None = None
    #: the device profile's ONNX Runtime providers in preference order, put into its ORT jobs' params
    providers: tuple[str, ...] | None = None
    #: profile facts for the board snapshot (``config.profiles.snapshot_facts``: why this profile, power limits)
    profile_facts: dict[str, Any] | None = None


@dataclass
class BoardOutcome:
    board: str
    stored: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    interrupted: bool = False


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def controller_snapshot() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "benchbench": __version__, "cpu_count": os.cpu_count()}


class Run:
    def __init__(self, store: Store, suite: Suite, suite_file: str | None, suite_hash: str | None,
                 jobs: list[PlannedJob], boards: list[BoardTarget], cache_dir: Path,
                 events: Events = _no_events, run_id: str | None = None,
                 invocation: dict[str, Any] | None = None,
                 board_jobs: dict[str, list[PlannedJob]] | None = None) -> None:
        self.store, self.suite, self.jobs, self.boards = store, suite, jobs, boards
        #: boards whose artifacts differ (e.g. S8S8 int8 on ARM) get their own expansion of the same jobs
        self.board_jobs = board_jobs or {}
        self.cache_dir, self.events = cache_dir, events
        self.resuming = run_id is not None
        self.run_id = run_id or new_run_id()
        self.suite_file, self.suite_hash = suite_file, suite_hash
        self.invocation = invocation or {}
        self._transports: dict[str, Transport] = {}
        self._stop = threading.Event()
        #: every board's outcome as it is being filled: after an interrupt, what was stored before the stop
        self.outcomes: list[BoardOutcome] = []

    def jobs_for(self, board: BoardTarget) -> list[PlannedJob]:
        return self.board_jobs.get(board.name, self.jobs)

    def execute(self) -> list[BoardOutcome]:
        if self.resuming:
            # boards that were unreachable last time get another chance; measured jobs are kept
            self.store.forget_jobs(self.run_id, ("skipped",))
        else:
            plan = {"invocation": self.invocation,
                    "jobs": {b.name: [j.spec.job_key for j in self.jobs_for(b)] for b in self.boards}}
            self.store.create_run(self.run_id, self.suite.name, self.suite_file, self.suite_hash, __version__,
                                  controller_snapshot(), plan)
        done = self.store.stored_job_keys(self.run_id)
        status = "failed"
        pool = ThreadPoolExecutor(max_workers=max(1, len(self.boards)), thread_name_prefix="board")
        try:
            futures = [pool.submit(self._board, b, [j for j in self.jobs_for(b) if (b.name, j.spec.job_key) not in done])
                       for b in self.boards]
            outcomes = [f.result() for f in _wait_all(futures)]
            status = "complete" if not any(o.interrupted for o in outcomes) else "interrupted"
            return outcomes
        except KeyboardInterrupt:
            status = "interrupted"
            self._stop.set()
            for t in list(self._transports.values()):
                t.close()  # kills the agents; their threads then store what the boards finished
            raise
        finally:
            pool.shutdown(wait=True)
            self.store.finish_run(self.run_id, status)

    def _board(self, target: BoardTarget, jobs: list[PlannedJob]) -> BoardOutcome:
        out = BoardOutcome(board=target.name)
        self.outcomes.append(out)
        self.events("board_start", target.name, total=len(jobs))
        # model variants that failed generation/validation on the controller: stored as failed, never timed
        for j in jobs:
            if j.precheck_failure:
                self.store_record(failed_record(self.run_id, target.name, j, j.precheck_status, j.precheck_failure), out)
        jobs = [j for j in jobs if not j.precheck_failure]
        if not jobs:
            self.events("board_done", target.name, outcome=out)
            return out
        try:
            transport = target.connect()
        except BoardBusy as exc:  # another controller has the board (lab lease): its jobs are skipped
            return self._board_failed(target, jobs, out, str(exc))
        except TransportError as exc:
            return self._board_failed(target, jobs, out, f"connect failed: {exc}")
        self._transports[target.name] = transport
        try:
            self._deploy_and_run(target, transport, jobs, out)
        except (TransportError, DeployError, AgentError) as exc:
            out.error = str(exc)
            self._board_failed(target, [j for j in jobs if (target.name, j.spec.job_key)
                                        not in self.store.stored_job_keys(self.run_id)], out, str(exc))
        finally:
            transport.close()
        self.events("board_done", target.name, outcome=out)
        return out

    def _board_failed(self, target: BoardTarget, jobs: list[PlannedJob], out: BoardOutcome,
                      reason: str) -> BoardOutcome:
        out.error = reason
        if self._stop.is_set():
            out.interrupted = True
            return out
        for j in jobs:
            self.store_record(failed_record(self.run_id, target.name, j, "skipped", reason), out)
        self.store.record_board(self.run_id, target.name, status="failed", reason=reason)
        return out

    def _deploy_and_run(self, t: BoardTarget, tr: Transport, jobs: list[PlannedJob], out: BoardOutcome) -> None:
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
        handler = LineHandler(self, t.name, by_key, out, t.headline_channel, t.profile, t.profile_facts)
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
        req = RunRequest(run_id=self.run_id, board=t.name, jobs=specs,
                         sampling=SamplingPlan(interval_s=self.suite.sampling.interval_s,
                                               families=list(self.suite.sampling.families or t.sampling_families),
                                               root=t.sampling_root,
                                               measure_overhead=self.suite.sampling.measure_overhead))
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


def _wait_all(futures: list[Any]) -> list[Any]:
    # wait in short slices so Ctrl-C reaches the main thread promptly
    for f in futures:
        while True:
            try:
                f.result(timeout=0.2)
                break
            except FutureTimeout:
                continue
    return futures


def summarize(outcomes: list[BoardOutcome]) -> dict[str, int]:
    total: dict[str, int] = {}
    for o in outcomes:
        for k, v in o.statuses.items():
            total[k] = total.get(k, 0) + v
    return total


