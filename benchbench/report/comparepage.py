"""One self-contained HTML page for a comparison of two runs (``benchbench compare --html``, and the site's
``runs/<run>-vs-<previous>.html``): every compared row with ratio, test, p-value and verdict, the CI gate
verdicts, jobs found on one side only, the comparability warnings, and per board the environment settings
that differ between the two runs. Autoescaped; inline CSS; no scripts, no external references."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis.adapt import run_samples
from ..analysis.compare import CompareResult, MetricChange, compare_runs
from ..analysis.envdiff import differing_paths
from ..analysis.gates import Gate
from ..results.records import RunData
from .paths import slug
from .render import environment
from .sitehistory import when

#: what the site's run-vs-predecessor pages compare: the centre metrics (Mann–Whitney) and single values.
#: Tail percentiles need a bootstrap per job (seconds per thousand jobs): `benchbench compare` has them.
#: rows on a site comparison page of big runs (``changed_only``): the largest changes
SITE_ROWS = 300
SITE_METRICS = ("latency.p50", "latency.mean", "throughput", "energy_per_inference", "power.mean", "mem_peak")


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def verdict(r: MetricChange) -> str:
    """The row's verdict in words: worse / better / no change, '(ratio only)' when no test was possible."""
    if not r.changed:
        return "no change"
    return r.direction + (" (ratio only)" if r.significant is None else "")


def env_rows(run_a: RunData, run_b: RunData) -> list[dict[str, Any]]:
    """Per board in either run: the relevant settings (kernel, runtimes, governors …) that differ."""
    snaps_a = {b.board: b.snapshot for b in run_a.boards}
    snaps_b = {b.board: b.snapshot for b in run_b.boards}
    rows = []
    for board in sorted(set(snaps_a) | set(snaps_b)):
        if board not in snaps_a or board not in snaps_b:
            rows.append({"board": board, "path": "(board)",
                         "a": "present" if board in snaps_a else "(absent)",
                         "b": "present" if board in snaps_b else "(absent)"})
            continue
        for path, values in differing_paths({"a": snaps_a[board], "b": snaps_b[board]}):
            rows.append({"board": board, "path": path, "a": str(values["a"]), "b": str(values["b"])})
    return rows


def render_compare(run_a: RunData, run_b: RunData, result: CompareResult, template_dir: Path | None = None,
                   root: str | None = None, changed_only: bool = False) -> str:
    """``root``: relative path to a published site's root, for links back to it (None: a standalone page).
    ``changed_only``: list only the changed rows, the largest :data:`SITE_ROWS` (the site's pages for runs of
    thousands of jobs)."""
    shown = list(result.rows)
    if changed_only:  # the largest changes first, at most SITE_ROWS of them
        shown = sorted((r for r in result.rows if r.changed), key=lambda r: -abs(r.rel_change))[:SITE_ROWS]
    rows = [{"label": r.key.label(), "metric": r.metric, "a": _num(r.value_a), "b": _num(r.value_b),
             "change": f"{r.rel_change:+.1%}", "test": r.test or "none", "p": _num(r.p_value),
             "verdict": verdict(r), "cls": f"v-{r.direction}" if r.changed else "", "note": r.note or ""}
            for r in shown]
    gates = [{"gate": v.gate, "label": v.key.label(), "tripped": v.tripped, "basis": v.basis}
             for v in result.verdicts]
    runs = [{"side": side, "id": d.info.run_id, "href": f"{slug(d.info.run_id)}.html",
             "suite": d.info.suite_name, "started": when(d.info.started_at), "jobs": len(d.jobs)}
            for side, d in (("A (baseline)", run_a), ("B", run_b))]
    return environment(template_dir).get_template("compare.html.j2").render(
        title=f"{run_b.info.run_id} vs {run_a.info.run_id}", version=__version__, runs=runs, rows=rows,
        gates=gates, tripped=result.tripped, warnings=result.warnings, env=env_rows(run_a, run_b),
        only_a=[k.label() for k in result.only_in_a], only_b=[k.label() for k in result.only_in_b],
        n_changed=len(result.changes), alpha=result.alpha, min_change=f"{result.min_change:.1%}", root=root,
        n_hidden=len(result.rows) - len(shown), ids=(run_a.info.run_id, run_b.info.run_id))


def compare_page(run_a: RunData, run_b: RunData, gates: Sequence[Gate] = (), *,
                 metrics: Sequence[str] | None = None, template_dir: Path | None = None,
                 root: str | None = None, changed_only: bool = False) -> str:
    """Compare ``run_b`` against ``run_a`` with the default thresholds and render the page."""
    res = compare_runs(run_samples(run_a), run_samples(run_b), gates, metrics=metrics)
    return render_compare(run_a, run_b, res, template_dir, root, changed_only)


def write_compare(html: str, out: Path) -> Path:
    from .render import write_html
    return write_html(html, out)
