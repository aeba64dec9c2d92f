"""``benchbench export`` (stored results out as CSV, Parquet or JSON) and ``benchbench import
pytest-benchmark`` (another tool's results in as a run)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import DB_HELP, DEFAULT_DB, handle_errors, out, print_json, term_safe


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json"]), default="csv",
              show_default=True)
@click.option("--run", "run_id", default=None, help="Only this run (default: every stored run).")
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Output file (default: benchbench-export.<format>).")
@handle_errors
def export(fmt: str, run_id: str | None, db: str, output: Path | None) -> None:
    """Export stored results, one row per (job, metric), as CSV, Parquet or JSON."""
    from ..results.export import export as do_export
    from ..results.store import Store
    path, n = do_export(Store(db, readonly=True), fmt, output or Path(f"benchbench-export.{fmt}"), run_id)
    out.print(f"exported {n} rows to {path}")


@click.group("import")
def import_() -> None:
    """Import results measured by other tools."""


@import_.command("pytest-benchmark")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--board", required=True, help="Board the benchmarks ran on (its history series).")
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("--run", "run_id", default=None, help="Run id to store under (default: from the file's hash).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@handle_errors
def import_pytest_benchmark(file: Path, board: str, db: str, run_id: str | None, as_json: bool) -> None:
    """Store a `pytest --benchmark-json` FILE as a run, one job per benchmark."""
    from ..ingest.pytest_json import import_pytest_benchmark as do_import
    from ..results.store import Store
    rid, added = do_import(Store(db), file, board, run_id)
    if as_json:
        print_json({"run_id": rid, "jobs_added": added})
    else:
        out.print(f"run {term_safe(rid)}: {added} new job(s) from {term_safe(file)}", markup=False)
