"""`benchbench run`: load → expand → run with a live progress line per board → store → report."""

from __future__ import annotations

import functools
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config.profiles import DeviceProfile, snapshot_facts
from ..config.suite import Suite, load_suite, resolve_suite_path, suite_hash
from ..deploy.detect import choose_profile, detect_board
from ..errors import BenchbenchError, ConfigError
from ..pipeline import BoardOutcome, BoardTarget, Run, summarize
from ..report.paths import report_path as default_report_path
from ..results.ids import check_run_id
from ..results.store import Store
from ..transport.local import LocalTransport
from ..workloads.model_jobs import byo_suite_hash
from ..workloads.plan import local_arch
from ..workloads.registry import expand
from ..workloads.staging import BYO_FLAGS
from .common import EXIT_FAILED_JOBS, cache_dir, err, out, print_json, term_safe
from .signals import Interrupted

log = logging.getLogger(__name__)


class ProgressEvents:
    """Pipeline events → one rich progress line per board (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str, board: str, **data: Any) -> None:
        board = escape(term_safe(board))  # a label from the fleet file: never markup or terminal escapes
        with self.lock:
            if kind == "board_start":
                self.tasks[board] = self.progress.add_task(f"{board}: connecting", total=data.get("total") or 0)
                return
            task = self.tasks.get(board)
            if task is None:
                return
            if kind == "deploy":
                self.progress.update(task, description=f"{board}: deploying")
            elif kind == "running":
                self.progress.update(task, description=f"{board}: measuring")
            elif kind == "job_done":
                rec = data["record"]
                what = escape(term_safe(f"{rec.workload} {rec.precision} [{rec.status}]"))
                self.progress.update(task, advance=1, description=f"{board}: {what}")
            elif kind == "board_done":
                o: BoardOutcome = data["outcome"]
                self.progress.update(task, description=f"{board}: done" if not o.error else f"{board}: FAILED")


def _target(name: str, connect: Any, python: str, work_dir: str, profile: DeviceProfile | None,
            why: str) -> BoardTarget:
    """A board run with its device profile's sensors, headline power, arch and providers."""
    if profile is None:
        return BoardTarget(name=name, connect=connect, python=python, work_dir=work_dir,
                           profile_facts={"profile_reason": why})
    headline = profile.effective_headline()
    return BoardTarget(name=name, connect=connect, python=python, work_dir=work_dir,
                       sampling_families=tuple(profile.sampler_families()),
                       headline_channel=headline.channel if headline else None, arch=profile.arch,
                       profile=profile.name, providers=profile.execution_providers,
                       profile_facts=snapshot_facts(profile, why))


def _detected(connect: Any, python: str, work_dir: str, cache: Path) -> dict[str, Any] | None:
    """The board's own detection (None, logged, when it cannot be reached: the run then says why)."""
    try:
        transport = connect()
    except BenchbenchError as exc:
        log.warning("profile detection: %s", exc)
        return None
    try:
        return detect_board(transport, python, work_dir, cache / "agent")
    except BenchbenchError as exc:
        log.warning("profile detection: %s", exc)
        return None
    finally:
        transport.close()


def _local_target(cache: Path, override: str | None = None) -> BoardTarget:
    work_dir = str(cache / "boards" / "local")
    detected = None if override else _detected(LocalTransport, sys.executable, work_dir, cache)
    profile, why = choose_profile(override, None, detected)
    return _target("local", LocalTransport, sys.executable, work_dir, profile, why)


def _fleet_targets(fleet_file: Path, selectors: str | None, accept_new_host_keys: bool,
                   ssh_config: Path | None, override: str | None = None) -> list[BoardTarget]:
    from ..config.fleet import load_fleet, select_boards
    from ..config.profiles import load_profile
    from ..transport.fleet import ssh_opener
    inventory = load_fleet(fleet_file)
    opener = ssh_opener(inventory, ssh_config=ssh_config, accept_new_host_keys=accept_new_host_keys)
    targets = []
    for b in select_boards(inventory, selectors):
        try:
            profile = load_profile(b.profile) if b.profile else None
        except ConfigError as exc:
            if exc.file is not None:  # the profile file itself is bad: it names its own file and key
                raise
            index = next(i for i, x in enumerate(inventory.boards) if x.name == b.name)
            raise ConfigError(f"board {b.name!r}: {exc.args[0]}", file=str(fleet_file),
                              key=f"boards[{index}].profile", hint=exc.hint) from None
        connect = functools.partial(opener, b)
        if override:
            profile, why = choose_profile(override, None, None)
        elif profile is not None:
            why = "fleet file profile"
        else:  # no profile: the board says what it is (its agent's detection)
            profile, why = choose_profile(None, None, _detected(connect, b.python, b.work_dir, cache_dir()))
        targets.append(_target(b.name, connect, b.python, b.work_dir, profile, why))
    return targets


def _board_leases(store: Store, runner: Run, wait: bool) -> Any:
    """On a shared PostgreSQL store, each board's lab lease is taken as it is connected (benchbench.lab)."""
    from ..lab.engine import is_postgres
    if not is_postgres(store.url):
        return None
    from ..lab.lease import BoardLeases
    leases = BoardLeases(store.url, wait=wait, cancelled=runner._stop)  # Ctrl-C ends a wait for a lease
    runner.boards = [leases.wrap(t) for t in runner.boards]
    return leases


def run_command(suite_name: str | None, db: str, report_path: Path | None, no_report: bool, as_json: bool, *,
                fleet_file: Path | None = None, boards: str | None = None, resume: str | None = None,
                accept_new_host_keys: bool = False, ssh_config: Path | None = None,
                byo: Suite | None = None, profile: str | None = None, wait: bool = False) -> int:
    """``profile``: ``--profile NAME|FILE``, overriding the detected (local) or configured (fleet) one."""
    if resume is not None:
        check_run_id(resume, "--resume")
        if suite_name or byo is not None:
            raise ConfigError("--resume reruns the stored run's own suite; leave out --suite/--model",
                              key="--resume")
    store = Store(db)  # opened before measuring: an unusable DB fails now, not after the work
    plan_boards: list[str] | None = None
    if resume:
        plan = store.run_plan(resume)
        inv = plan.get("invocation") or {}
        suite_name = suite_name or inv.get("suite")
        fleet_file = fleet_file or (Path(inv["fleet"]) if inv.get("fleet") else None)
        boards = boards or inv.get("boards")
        plan_boards = list((plan.get("jobs") or {}).keys())
    suite_path = resolve_suite_path(suite_name)
    suite = byo or load_suite(suite_path)
    cache = cache_dir()
    # a --model run has no suite file: errors then name the flags, and the suite's own hash stands in
    suite_file = BYO_FLAGS if byo else str(suite_path)
    targets = (_fleet_targets(fleet_file, boards, accept_new_host_keys, ssh_config, profile) if fleet_file
               else [_local_target(cache, profile)])
    if plan_boards is not None:
        targets = [t for t in targets if t.name in plan_boards]
    # one expansion per CPU architecture: model variants differ (U8S8 int8 on x86, S8S8 on ARM)
    by_arch = {arch: expand(suite, suite_file, cache / "artifacts", target_arch=arch)
               for arch in sorted({t.arch or local_arch() for t in targets})}
    jobs = by_arch[local_arch()] if local_arch() in by_arch else next(iter(by_arch.values()))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=False, disable=as_json)
    invocation = {"suite": str(suite_path.resolve()), "fleet": str(fleet_file.resolve()) if fleet_file else None,
                  "boards": boards}
    runner_jobs = {t.name: by_arch[t.arch or local_arch()] for t in targets}
    runner = Run(store, suite, None if byo else suite_file, byo_suite_hash(byo) if byo else suite_hash(suite_path),
                 jobs, targets, cache,
                 events=ProgressEvents(progress), run_id=resume, invocation=invocation,
                 board_jobs=runner_jobs)
    signum: int | None = None
    leases = _board_leases(store, runner, wait) if fleet_file else None
    with progress:
        try:
            outcomes = runner.execute()
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP as Interrupted (cli.signals)
            signum = exc.signum if isinstance(exc, Interrupted) else 2
            outcomes = list(runner.outcomes)  # what each board stored before the stop
        finally:
            if leases is not None:
                leases.close()
    interrupted = signum is not None
    report_file = None
    if not no_report:
        from ..report.render import write_report
        report_file = write_report(store.load_run(runner.run_id), report_path or default_report_path(runner.run_id))
    statuses = summarize(outcomes) if outcomes else {}
    failed = sum(v for k, v in statuses.items() if k not in ("ok", "unsupported"))
    errors = [f"{o.board}: {o.error}" for o in outcomes if o.error]
    if as_json:
        print_json({"run_id": runner.run_id, "db": store.display_url, "report": str(report_file) if report_file else None,
                    "statuses": statuses, "interrupted": interrupted, "board_errors": errors,
                    "boards": {o.board: {"stored": o.stored, "statuses": o.statuses, "error": o.error}
                               for o in outcomes}})
    else:
        out.print(f"run {runner.run_id}: " + (", ".join(f"{v} {k}" for k, v in sorted(statuses.items())) or
                                              "no new jobs") + (" (interrupted)" if interrupted else ""),
                  markup=False)
        for o in outcomes:
            line = f"  {term_safe(o.board)}: " + (", ".join(f"{v} {k}" for k, v in sorted(o.statuses.items()))
                                                  or "nothing new")
            out.print(line + (f" — FAILED: {term_safe(o.error)}" if o.error else ""), markup=False)
        out.print(f"results: {term_safe(store.display_url)}", markup=False)
        if report_file:
            out.print(f"report: {term_safe(report_file)}", markup=False)
    if signum is not None:
        return 128 + signum
    return EXIT_FAILED_JOBS if failed or errors else 0
