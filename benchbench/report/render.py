"""Render a stored run to one self-contained HTML file (autoescaped; inline CSS and SVG; no scripts,
no network fetches). A lab can override templates by putting files of the same name in a directory
passed as ``template_dir`` (a copy of ``reports/templates`` with some files changed)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2

from ..analysis.findings import run_findings
from ..errors import StoreError
from ..results.records import JobRecord, RunData
from .bars import bars_view
from .figures import latency_distribution
from .findingsview import findings_view
from .viewmodel import ReportModel, build, fmt_bytes, fmt_seconds
from .views import build_views


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders.append(jinja2.PackageLoader("benchbench.report", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["seconds"] = fmt_seconds
    env.filters["bytes"] = fmt_bytes
    env.filters["tojson_pretty"] = _json_text
    return env


def _json_text(v: Any) -> str:
    """Pretty JSON, or one line when it is short (a 2 000-job report has a block per job)."""
    flat = json.dumps(v, sort_keys=True, default=str)
    return flat if len(flat) <= 100 else json.dumps(v, indent=1, sort_keys=True, default=str)


def render_run(run: RunData, template_dir: Path | None = None) -> str:
    """The run's report page; it depends on the stored run alone (profile facts come from its snapshots)."""
    model = build(run)
    groups: dict[str, list[JobRecord]] = defaultdict(list)
    for row in model.rows:
        groups[f"{row.workload} ({row.params})"].append(row.job)
    figs: dict[str, Any] = {}
    for title, jobs in groups.items():
        svg = latency_distribution(title, jobs)
        if svg is not None:
            figs[title] = {"svg": svg, "jobs": jobs}
    return environment(template_dir).get_template("report.html.j2").render(
        m=model, figures=figs, views=build_views(run), shared_titles=_shared_titles(model),
        col_scopes=_column_scopes(model), fs=findings_view(run_findings(run.jobs, run.boards)),
        bars=bars_view(run.jobs))


def _shared_titles(model: ReportModel) -> dict[str, str]:
    """Tooltips that every row of a summary column shares (the same sensor, the same timed window): shown
    once on the column header instead of on each of thousands of cells, which keeps large reports small."""
    out: dict[str, str] = {}
    if len(model.rows) < 2:
        return out
    for key, _ in model.columns:
        if key in ("power.mean", "energy.per_inference"):
            continue  # each cell names its own scope and sensor on hover
        titles = {r.cells[key].title for r in model.rows}
        if len(titles) == 1 and None not in titles and not any(r.cells[key].unavailable for r in model.rows):
            out[key] = titles.pop() or ""
    return out


def _column_scopes(model: ReportModel) -> dict[str, str]:
    """Power/energy columns whose measured cells share one scope: said once in the header, not in each
    cell."""
    out = {}
    for key in ("power.mean", "energy.per_inference"):
        scopes = {r.cells[key].scope for r in model.rows if key in r.cells and r.cells[key].scope}
        if len(scopes) == 1:
            out[key] = scopes.pop() or ""
    return out


def write_html(html: str, out: Path) -> Path:
    """Write a page atomically (temp name + rename): a reader never sees half a report."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror}") from None
    return out


def write_report(run: RunData, out: Path, template_dir: Path | None = None) -> Path:
    return write_html(render_run(run, template_dir), out)
