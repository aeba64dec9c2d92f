"""``benchbench`` entry point: run, report, workloads (and the groups other modules add)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..errors import ConfigError
from ..transport.sshconfig import DEFAULT_SSH_CONFIG
from .common import (
    DB_HELP,
    DEFAULT_DB,
    OneLineErrors,
    err,
    handle_errors,
    out,
    print_json,
    setup_logging,
    template_errors,
    term_safe,
)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="benchbench")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: int) -> None:
    """Benchmark and profile edge AI boards: latency, power/energy and memory per precision."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    setup_logging(verbose, debug)


@main.command()
@click.option("--suite", "suite_name", default=None, help="Suite file or built-in name (default: quick).")
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("-o", "--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the HTML report (default: reports/out/<run>.html).")
@click.option("--no-report", is_flag=True, help="Do not render a report.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--fleet", "fleet_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Fleet inventory YAML: run on its boards over SSH instead of this machine.")
@click.option("--boards", default=None, help="With --fleet: comma-separated board names or tags.")
@click.option("--resume", default=None, metavar="RUN_ID", help="Run only the jobs of RUN_ID not yet stored.")
@click.option("--accept-new-host-keys", is_flag=True,
              help="Record host keys of boards not yet in known_hosts (changed keys are always refused).")
@click.option("--ssh-config", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_SSH_CONFIG,
              show_default=True, help="OpenSSH client config to honour.")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Bring your own ONNX model: run its precision variants instead of a suite.")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=1x3x224x224",
              help="With --model: static shape for an input with dynamic dims (repeatable).")
@click.option("--input", "fixed_inputs", multiple=True, metavar="NAME=VALUE",
              help="With --model: a control input that must hold this value, e.g. sr=16000 (repeatable).")
@click.option("--inputs", "inputs_npz", type=click.Path(dir_okay=False), default=None, metavar="DATA.npz",
              help="With --model: real input samples (also the int8 calibration data).")
@click.option("--precision", "precisions", multiple=True,
              help="With --model: precisions to make (default: every one that applies; repeatable).")
@click.option("--profile", default=None, metavar="NAME|FILE",
              help="Device profile to use instead of the detected (local) or configured (fleet) one.")
@click.option("--wait", is_flag=True,
              help="PostgreSQL --db with --fleet: wait for boards another controller holds "
                   "(default: skip them).")
@handle_errors
def run(suite_name: str | None, db: str, report_path: Path | None, no_report: bool, as_json: bool,
        fleet_file: Path | None, boards: str | None, resume: str | None, accept_new_host_keys: bool,
        ssh_config: Path, model_path: Path | None, shapes: tuple[str, ...],
        fixed_inputs: tuple[str, ...],
        inputs_npz: str | None, precisions: tuple[str, ...], profile: str | None, wait: bool) -> None:
    """Run a suite on this machine (board `local`), or on a fleet over SSH; store results; write a report."""
    from ..pipeline import PlanRequest
    from .runcmd import run_command
    from .signals import stop_on_signals
    if boards and not fleet_file and not resume:
        raise ConfigError("--boards needs --fleet", key="--boards")
    if ssh_config != DEFAULT_SSH_CONFIG and not ssh_config.is_file():  # only the default may be missing
        raise ConfigError("file not found", file=str(ssh_config), key="--ssh-config")
    if resume is not None and (suite_name or model_path is not None):
        raise ConfigError("--resume reruns the stored run's own suite; leave out --suite/--model",
                          key="--resume")
    with stop_on_signals():  # SIGINT, SIGTERM and SIGHUP: stop agents, keep finished jobs, exit 128+signal
        byo = None
        if model_path is not None:
            if suite_name:
                raise ConfigError("--model and --suite are exclusive", key="--model")
            from ..workloads.registry import byo_suite
            byo = byo_suite(model_path, list(shapes), list(fixed_inputs), inputs_npz,
                            list(precisions) or None)
        elif shapes or fixed_inputs or inputs_npz or precisions:
            raise ConfigError("--shape, --input, --inputs and --precision need --model", key="--model")
        request = PlanRequest(suite=suite_name, byo=byo, fleet_file=fleet_file, boards=boards, resume=resume,
                              profile=profile, accept_new_host_keys=accept_new_host_keys,
                              ssh_config=ssh_config, wait=wait)
        code = run_command(request, db, report_path, no_report, as_json)
    sys.exit(code)


@main.command()
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("--run", "run_id", default=None, help="Run ID (default: the latest run).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output HTML path (default: reports/out/<run>.html).")
@click.option("--list", "list_runs", is_flag=True, help="List stored runs instead.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Directory of templates overriding the packaged ones (names as in reports/templates/).")
@handle_errors
def report(db: str, run_id: str | None, output: Path | None, list_runs: bool, as_json: bool,
           templates: Path | None) -> None:
    """Render the HTML report of a stored run (the latest by default)."""
    from ..report.paths import report_path
    from ..report.render import write_report
    from ..results.store import Store
    store = Store(db, readonly=True)
    if list_runs:
        runs = store.list_runs()
        if as_json:
            print_json([r.__dict__ for r in runs])
            return
        from rich.table import Table
        table = Table("run", "suite", "status", "jobs", "started")
        import datetime as dt

        from rich.markup import escape
        for r in runs:
            table.add_row(escape(term_safe(r.run_id)), escape(term_safe(r.suite_name)),
                          escape(term_safe(r.status)), str(r.n_jobs),
                          dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M:%S"))
        out.print(table)
        return
    run_id = run_id or store.latest_run_id()
    if run_id is None:
        raise ConfigError(f"no runs stored in {store.display_url}", key="--db",
                          hint="run `benchbench run` first")
    with template_errors(templates):
        path = write_report(store.load_run(run_id), output or report_path(run_id), templates)
    out.print(f"report: {term_safe(path)}", markup=False)


@main.group()
def workloads() -> None:
    """The workload catalogue."""


@workloads.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def workloads_list(as_json: bool) -> None:
    """List workloads with their precisions, backends and parameters."""
    from ..config.suite import builtin_suites
    from ..workloads.kernels import catalogue
    rows: list[dict[str, Any]] = []
    for name, d in sorted(catalogue().items()):
        rows.append({"name": name, "kind": d.kind, "description": d.description, "precisions": d.backends,
                     "params": {k: (str(f.annotation), f.default)
                                for k, f in d.params_model.model_fields.items()}})
    if as_json:
        print_json({"workloads": rows, "suites": {k: str(v) for k, v in builtin_suites().items()}})
        return
    from rich.table import Table
    table = Table("workload", "precisions → backend", "params (defaults)", "description")
    for r in rows:
        table.add_row(r["name"], ", ".join(f"{p}→{b}" for p, b in r["precisions"].items()),
                      ", ".join(f"{k}={v[1]}" for k, v in r["params"].items()), r["description"])
    out.print(table)
    out.print("built-in suites: " + ", ".join(builtin_suites()))


def _register_optional() -> None:
    """Commands that live in their own modules (devices, fleet, compare, history, export/import, publish,
    lab queue)."""
    import importlib
    for mod, names in (("benchbench.cli.devices", ("devices",)), ("benchbench.cli.fleet", ("fleet",)),
                       ("benchbench.cli.compare", ("compare",)), ("benchbench.cli.history", ("history",)),
                       ("benchbench.cli.exchange", ("export", "import_")),
                       ("benchbench.cli.publish", ("publish",)),
                       ("benchbench.cli.queuecmd", ("submit", "worker", "queue"))):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        for n in names:
            cmd = getattr(m, n, None)
            if isinstance(cmd, click.Command):
                main.add_command(cmd)


_register_optional()

__all__ = ["err", "main"]
