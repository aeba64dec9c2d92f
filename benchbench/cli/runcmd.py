"""`benchbench run`: load → expand → run with a live progress line per board → store → report."""

from __future__ import annotations

import functools
import sys
import threading
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config.suite import Suite, load_suite, resolve_suite_path, suite_hash
from ..pipeline import BoardOutcome, BoardTarget, Run, summarize
from ..results.store import Store
from ..transport.local import LocalTransport
from ..workloads.model_jobs import BYO_FLAGS, byo_suite_hash, local_arch
from ..workloads.registry import expand
from .common import EXIT_FAILED_JOBS, EXIT_INTERRUPTED, cache_dir, err, out, print_json


class ProgressEvents:
    """Pipeline events → one rich progress line per board (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str, board: str, **data: Any) -> None:
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
                self.progress.update(task, advance=1, description=f"{board}: {rec.workload} {rec.precision} "
                                                                  f"[{rec.status}]")
            elif kind == "board_done":
                o: BoardOutcome = data["outcome"]
                self.progress.update(task, description=f"{board}: done" if not o.error else f"{board}: FAILED")


def _local_target(cache: Path) -> BoardTarget:
    return BoardTarget(name="local", connect=LocalTransport, python=sys.executable,
                       work_dir=str(cache / "boards" / "local"), profile="generic-linux")


def _fleet_targets(fleet_file: Path, selectors: str | None, accept_new_host_keys: bool,
                   ssh_config: Path | None) -> list[BoardTarget]:
    from ..config.fleet import load_fleet, select_boards
    from ..config.profiles import load_profile
    from ..transport.fleet import ssh_opener
    inventory = load_fleet(fleet_file)
    opener = ssh_opener(inventory, ssh_config=ssh_config, accept_new_host_keys=accept_new_host_keys)
    targets = []
    for b in select_boards(inventory, selectors):
        profile = load_profile(b.profile) if b.profile else None
        families = tuple(profile.sampler_families()) if profile else BoardTarget.sampling_families
        headline = profile.effective_headline() if profile else None
        targets.append(BoardTarget(name=b.name, connect=functools.partial(opener, b), python=b.python,
                                   work_dir=b.work_dir, sampling_families=families,
                                   headline_channel=headline.channel if headline else None,
                                   arch=profile.arch if profile else None,
                                   profile=profile.name if profile else None,
                                   # ORT execution providers, in the profile's order of preference
                                   providers=profile.execution_providers if profile else None))
    return targets


def run_command(suite_name: str | None, db: str, report_path: Path | None, no_report: bool, as_json: bool, *,
                fleet_file: Path | None = None, boards: str | None = None, resume: str | None = None,
                accept_new_host_keys: bool = False, ssh_config: Path | None = None,
                byo: Suite | None = None) -> int:
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
    targets = (_fleet_targets(fleet_file, boards, accept_new_host_keys, ssh_config) if fleet_file
               else [_local_target(cache)])
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
    interrupted = False
    with progress:
        try:
            outcomes = runner.execute()
        except KeyboardInterrupt:
            interrupted = True
            outcomes = []
    report_file = None
    if not no_report:
        from ..report.render import write_report
        report_file = write_report(store.load_run(runner.run_id),
                                   report_path or Path("benchbench-reports") / f"{runner.run_id}.html")
    statuses = summarize(outcomes) if outcomes else {}
    failed = sum(v for k, v in statuses.items() if k not in ("ok", "unsupported"))
    errors = [f"{o.board}: {o.error}" for o in outcomes if o.error]
    if as_json:
        print_json({"run_id": runner.run_id, "db": store.url, "report": str(report_file) if report_file else None,
                    "statuses": statuses, "interrupted": interrupted, "board_errors": errors,
                    "boards": {o.board: {"stored": o.stored, "statuses": o.statuses, "error": o.error}
                               for o in outcomes}})
    else:
        out.print(f"run {runner.run_id}: " + (", ".join(f"{v} {k}" for k, v in sorted(statuses.items())) or
                                              "no new jobs") + (" (interrupted)" if interrupted else ""))
        for o in outcomes:
            line = f"  {o.board}: " + (", ".join(f"{v} {k}" for k, v in sorted(o.statuses.items())) or "nothing new")
            out.print(line + (f" — FAILED: {o.error}" if o.error else ""))
        out.print(f"results: {store.url}")
        if report_file:
            out.print(f"report: {report_file}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED_JOBS if failed or errors else 0
