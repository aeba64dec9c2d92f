"""``benchbench submit | worker | queue``: a lab of many controllers sharing one PostgreSQL
(benchbench.lab)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError
from ..transport.sshconfig import DEFAULT_SSH_CONFIG
from .common import cache_dir, handle_errors, out, print_json, term_safe

if TYPE_CHECKING:
    from ..results.store import Store

_FLEET = click.Path(path_type=Path, dir_okay=False)


def _lab_store(db: str) -> Store:
    from ..lab.engine import require_postgres
    from ..results.store import Store
    return Store(require_postgres(db))  # opened first: it creates the results schema in a new database


@click.command()
@click.option("--suite", "suite_name", default=None, help="Suite file or built-in name (default: quick).")
@click.option("--fleet", "fleet_file", type=_FLEET, required=True, help="Fleet inventory YAML.")
@click.option("--db", required=True, help="Shared results database: a PostgreSQL URL.")
@click.option("--boards", default=None, help="Comma-separated board names or tags (default: all).")
@click.option("--batch", "batch_size", type=click.IntRange(min=0), default=8, show_default=True,
              help="Jobs per engine job (0: one per board); a model's variants stay together.")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher runs first on a board.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@handle_errors
def submit(suite_name: str | None, fleet_file: Path, db: str, boards: str | None, batch_size: int,
           priority: int, as_json: bool) -> None:
    """Store a run and queue its jobs for lab workers (`benchbench worker`)."""
    from ..config.suite import resolve_suite_path
    from ..lab.plan import submit as do_submit
    store = _lab_store(db)
    if not fleet_file.is_file():
        raise ConfigError("file not found", file=str(fleet_file), key="--fleet")
    res = do_submit(store, resolve_suite_path(suite_name), fleet_file, boards, cache_dir(), batch_size,
                    priority)
    if as_json:
        print_json({"run_id": res.run_id, "db": store.display_url, "batches": res.batches, "jobs": res.jobs})
        return
    out.print(f"run {res.run_id}: {sum(res.jobs.values())} jobs on {len(res.jobs)} boards queued as "
              f"{sum(res.batches.values())} engine jobs", markup=False)
    out.print(f"results: {term_safe(store.display_url)}", markup=False)


@click.command()
@click.option("--db", required=True, help="Shared results database: a PostgreSQL URL.")
@click.option("--fleet", "fleet_file", type=_FLEET, required=True,
              help="Fleet inventory YAML: the boards reachable here.")
@click.option("--boards", default=None,
              help="Serve only these board names or tags (default: all in the fleet).")
@click.option("--name", "controller", default=None, help="Controller name shown in the queue and reports "
                                                          "(default: host:pid).")
@click.option("--heartbeat", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between this worker's heartbeats.")
@click.option("--stalled-after", type=click.FloatRange(min=1.0), default=30.0, show_default=True,
              help="A controller silent this long is dead: its jobs go back to the queue.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Fallback queue polling interval (new jobs wake the worker at once).")
@click.option("--accept-new-host-keys", is_flag=True,
              help="Record host keys of boards not yet in known_hosts.")
@click.option("--ssh-config", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_SSH_CONFIG,
              show_default=True, help="OpenSSH client config to honour.")
@handle_errors
def worker(db: str, fleet_file: Path, boards: str | None, controller: str | None, heartbeat: float,
           stalled_after: float, poll: float, accept_new_host_keys: bool, ssh_config: Path) -> None:
    """Run lab jobs for the boards of FLEET until stopped (SIGTERM/SIGINT: in-flight batches are requeued)."""
    from ..lab.engine import default_controller_name
    from ..lab.worker import LabWorker, WorkerSettings
    from ..pipeline.targets import fleet_targets
    if stalled_after <= 2 * heartbeat:
        raise ConfigError("must be more than twice --heartbeat", key="--stalled-after")
    store = _lab_store(db)
    if not fleet_file.is_file():
        raise ConfigError("file not found", file=str(fleet_file), key="--fleet")
    if ssh_config != DEFAULT_SSH_CONFIG and not ssh_config.is_file():  # only the default may be missing
        raise ConfigError("file not found", file=str(ssh_config), key="--ssh-config")
    targets = fleet_targets(fleet_file, boards, cache_dir(), accept_new_host_keys=accept_new_host_keys,
                            ssh_config=ssh_config)
    settings = WorkerSettings(controller=controller or default_controller_name(), heartbeat_s=heartbeat,
                              stalled_s=stalled_after, recover_every_s=max(heartbeat, stalled_after / 4),
                              poll_s=poll)
    lab = LabWorker(store.url, targets, cache_dir(), settings)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        lab.stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    served = ", ".join(term_safe(t.name) for t in targets)
    out.print(f"worker {term_safe(settings.controller)}: serving {served} "
              f"from {term_safe(store.display_url)}", markup=False)
    lab.run()
    out.print(f"worker {term_safe(settings.controller)}: stopped after {lab.batches_done} batch(es)",
              markup=False)


@click.command("queue")
@click.option("--db", required=True, help="Shared results database: a PostgreSQL URL.")
@click.option("--run", "run_id", default=None, help="Run ID (default: the runs queued last).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def queue(db: str, run_id: str | None, as_json: bool) -> None:
    """Queued / running (on which controller) / done / failed jobs per board of the lab's runs."""
    from ..lab.status import queue_view
    from ..results.ids import check_run_id
    if run_id is not None:
        check_run_id(run_id, "--run")
    store = _lab_store(db)
    if run_id is not None:
        store.run_plan(run_id)  # an unknown run is an error, not an empty table
    view = queue_view(store, run_id)
    if as_json:
        print_json({"boards": [{"run_id": q.run_id, "board": q.board, "queued": q.queued, "done": q.done,
                                "failed": q.failed, "engine_failed": q.engine_failed,
                                "running": [{"controller": c, "since": s.isoformat()} for c, s in q.running]}
                               for q in view.boards],
                    "leases": [{"board": b, "controller": c, "since": s.isoformat()}
                               for b, c, s in view.leases]})
        return
    from rich.markup import escape
    from rich.table import Table
    table = Table("run", "board", "queued", "running", "done", "failed")
    for q in view.boards:
        running = "; ".join(f"{c} since {s.astimezone():%H:%M:%S}" for c, s in q.running) or "–"
        failed = str(q.failed) + (f" (+{q.engine_failed} engine)" if q.engine_failed else "")
        cells = (q.run_id, q.board, str(q.queued), running, str(q.done), failed)
        table.add_row(*(escape(term_safe(x)) for x in cells))
    out.print(table)
    for b, c, s in view.leases:
        out.print(f"leased by `benchbench run`: {term_safe(b)} — {term_safe(c)} "
                  f"since {s.astimezone():%H:%M:%S}", markup=False)
