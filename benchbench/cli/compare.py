"""``benchbench compare RUN_A RUN_B``: one stored run against a baseline, job by job (ratio and
significance), as a table, JSON or HTML; ``--fail-on`` gates for CI.

Exit codes: 0 no regression, 3 a ``--fail-on`` gate tripped (RegressionDetected), 2 bad input
(ConfigError / StoreError), all through :func:`handle_errors`.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..analysis.adapt import run_samples
from ..analysis.compare import CompareResult, compare_runs
from ..analysis.gates import parse_gates
from ..errors import ConfigError, RegressionDetected
from .common import DB_HELP, DEFAULT_DB, fmt_num, handle_errors, out, print_json, term_safe


def _compare_table(res: CompareResult) -> Table:
    t = Table("job", "metric", "A", "B", "change", "test", "p", "verdict")
    for r in res.rows:
        verdict = r.direction if r.changed else "no change"
        if r.changed and r.significant is None:
            verdict += " (ratio only)"
        t.add_row(escape(term_safe(r.key.label())), r.metric, fmt_num(r.value_a), fmt_num(r.value_b),
                  f"{r.rel_change:+.1%}", r.test or "none", fmt_num(r.p_value), verdict)
    return t


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--db", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option("--fail-on", "fail_on", multiple=True, metavar="METRIC:+N%",
              help="CI gate, repeatable: exit 3 when METRIC regresses by N %% or more (and significantly).")
@click.option("--alpha", default=0.01, show_default=True, type=float, help="Significance level of the tests.")
@click.option("--min-change", default=5.0, show_default=True, type=float,
              help="Smallest relative change (%%) reported as a change.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--html", "html_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison (rows, gate verdicts, environment differences) as one HTML "
                   "file.")
@handle_errors
def compare(run_a: str, run_b: str, db: str, fail_on: tuple[str, ...], alpha: float, min_change: float,
            as_json: bool, html_out: Path | None) -> None:
    """Compare RUN_B against the baseline RUN_A job by job (ratio AND significance)."""
    from ..results.store import Store
    gates = parse_gates(fail_on)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be in (0, 1), got {alpha}", key="--alpha")
    if min_change < 0:
        raise ConfigError(f"--min-change must be >= 0, got {min_change}", key="--min-change")
    store = Store(db, readonly=True)
    a, b = store.load_run(run_a), store.load_run(run_b)
    res = compare_runs(run_samples(a), run_samples(b), gates, alpha=alpha, min_change=min_change / 100.0)
    if gates and not res.rows:
        # a gate that compared nothing must not pass silently (renamed jobs, the wrong run id…)
        raise ConfigError(f"runs {term_safe(run_a)!r} and {term_safe(run_b)!r} have no job in common, so no "
                          "--fail-on gate can be checked", key="--fail-on",
                          hint="compare runs of the same suite on the same board")
    if html_out is not None:
        from ..report.comparepage import render_compare, write_compare
        write_compare(render_compare(a, b, res), html_out)
    if as_json:
        print_json({"run_a": run_a, "run_b": run_b, **res.to_dict()})
    else:
        out.print(_compare_table(res))
        for k in res.only_in_a:
            out.print(term_safe(f"only in {run_a}: {k.label()}"), markup=False)
        for k in res.only_in_b:
            out.print(term_safe(f"only in {run_b}: {k.label()}"), markup=False)
        for w in res.warnings:
            out.print(term_safe(f"warning: {w}"), markup=False)
        for v in res.verdicts:
            out.print(term_safe(f"{'TRIPPED' if v.tripped else 'ok'} {v.gate} {v.key.label()}: {v.basis}"),
                      markup=False)
    tripped = [v for v in res.verdicts if v.tripped]
    if tripped:
        raise RegressionDetected(f"{len(tripped)} gate(s) tripped: " + "; ".join(
            f"{v.gate} on {v.key.label()}" for v in tripped[:3]) + (" …" if len(tripped) > 3 else ""))
