"""`benchbench run`: the flags become a ``pipeline.PlanRequest``; the pipeline plans and runs it with a live
progress line per board; the outcome and the report path are printed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..pipeline import BoardOutcome, PlanRequest, Run, plan_run, summarize
from ..report.paths import report_path as default_report_path
from ..results.store import Store
from .common import EXIT_FAILED_JOBS, cache_dir, err, out, print_json, term_safe
from .signals import Interrupted


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
                total = data.get("total") or 0
                self.tasks[board] = self.progress.add_task(f"{board}: connecting", total=total)
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
                self.progress.update(task, description=f"{board}: FAILED" if o.error else f"{board}: done")


def run_command(request: PlanRequest, db: str, report_path: Path | None, no_report: bool,
                as_json: bool) -> int:
    """Plan the request, run it with a progress line per board, print the outcome; the exit code."""
    store = Store(db)  # opened before measuring: an unusable DB fails now, not after the work
    plan = plan_run(request, store, cache_dir())
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=False, disable=as_json)
    runner = Run(store, plan, cache_dir(), events=ProgressEvents(progress))
    signum: int | None = None
    with progress:
        try:
            outcomes = runner.execute()
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP as Interrupted (cli.signals)
            signum = exc.signum if isinstance(exc, Interrupted) else 2
            outcomes = list(runner.outcomes)  # what each board stored before the stop
    interrupted = signum is not None
    report_file = None
    if not no_report:
        from ..report.render import write_report
        report_file = write_report(store.load_run(runner.run_id),
                                   report_path or default_report_path(runner.run_id))
    statuses = summarize(outcomes) if outcomes else {}
    failed = sum(v for k, v in statuses.items() if k not in ("ok", "unsupported"))
    errors = [f"{o.board}: {o.error}" for o in outcomes if o.error]
    if as_json:
        print_json({"run_id": runner.run_id, "db": store.display_url,
                    "report": str(report_file) if report_file else None, "statuses": statuses,
                    "interrupted": interrupted, "board_errors": errors,
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
