"""``benchbench publish``: the static site of a store (runs, history, regressions, devices)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .common import DB_HELP, DEFAULT_DB, handle_errors, out, print_json, template_errors


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Site directory (created; pages whose content did not change are left untouched).")
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Directory of templates overriding the packaged ones (names as in reports/templates/).")
@click.option("--workers", default=min(os.cpu_count() or 1, 8), show_default="CPU count, at most 8",
              type=click.IntRange(1, 64),
              help="Processes rendering changed run pages (helps a first publish of a large store).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@handle_errors
def publish(out_dir: Path, db: str, templates: Path | None, workers: int, as_json: bool) -> None:
    """Write a static site: runs index, a report per run, history per board × workload, regressions."""
    from ..report.site import publish as do_publish
    from ..results.store import Store
    with template_errors(templates):
        res = do_publish(Store(db, readonly=True), out_dir, templates, workers)
    if as_json:
        print_json({"out": str(out_dir), "written": res.written, "unchanged": res.unchanged,
                    "removed": res.removed, "pages": len(res.pages)})
        return
    out.print(f"site {out_dir / 'index.html'}: {len(res.written)} page(s) written, "
              f"{len(res.unchanged)} unchanged, {len(res.removed)} removed")
    sys.stdout.flush()
