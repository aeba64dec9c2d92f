"""``benchbench history``: the stored runs as series per board × workload × metric, with step detection
and the regressions across the fleet, as a table or JSON (exit 0, or 2 on bad input)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..analysis.adapt import entries_from_rows, stored_names
from ..analysis.gates import METRICS
from ..analysis.history import DEFAULT_METRICS, Series, build_history, fleet_regressions
from .common import DB_HELP, DEFAULT_DB, fmt_num, handle_errors, out, print_json, term_safe


def _series_json(s: Series) -> dict[str, Any]:
    return {"key": asdict(s.key), "metric": s.metric, "points": [asdict(p) for p in s.points],
            "steps": [asdict(r) for r in s.steps]}


@click.command()
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("--board", default=None, help="Only this board.")
@click.option("--workload", default=None, help="Only this workload.")
@click.option("--metric", "metrics", multiple=True, type=click.Choice(sorted(METRICS)),
              help=f"Metric to track, repeatable (default: {', '.join(DEFAULT_METRICS)}).")
@click.option("--json", "as_json", is_flag=True, help="Print series and regressions as JSON.")
@handle_errors
def history(db: str, board: str | None, workload: str | None, metrics: tuple[str, ...],
            as_json: bool) -> None:
    """Series over runs with step detection; lists the regressions across the fleet."""
    from ..results.queries import job_rows
    from ..results.store import Store
    metrics = metrics or DEFAULT_METRICS
    rows = job_rows(Store(db, readonly=True), stored_names(metrics), board, workload)
    series = build_history(entries_from_rows(rows), metrics)
    regs = fleet_regressions(series)
    if as_json:
        print_json({"series": [_series_json(s) for s in series], "regressions": [asdict(r) for r in regs]})
        return
    if not series:
        out.print("no stored series match")
        return
    t = Table("job", "metric", "runs", "excluded", "latest", "steps")
    for s in series:
        steps = escape(term_safe(", ".join(f"{r.rel_change:+.1%} at {r.run_id}" for r in s.steps) or "-"))
        t.add_row(escape(term_safe(s.key.label())), s.metric, str(len(s.points)),
                  str(sum(p.excluded for p in s.points)), fmt_num(s.points[-1].value), steps)
    out.print(t)
    if regs:
        started = {row.run_id: row.run_started_at for row in rows}
        out.print("regressions (largest first):")
        for r in regs:
            when = dt.datetime.fromtimestamp(started[r.run_id]).strftime("%Y-%m-%d")
            out.print(term_safe(f"  {r.key.label()} {r.metric}: {r.rel_change:+.1%} from run {r.run_id} "
                                f"({when}), p={r.p_value:.3g}"), markup=False)
    else:
        out.print("no regressions")
