"""The sections of a site history page: per metric, trend figures of at most MAX_LINES series, each with
its data table beside it.

A nightly publish re-renders every history page (each series gained a point), thousands of table cells
per page, so the table bodies are written here as escaped markup in one pass instead of cell by cell in
Jinja (4× faster); the template only places them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

from ..analysis.gates import METRICS
from ..analysis.history import DEFAULT_METRICS, Series
from ..results.records import RunInfo
from .paths import slug
from .svgplot import Line, trend_svg
from .viewmodel import fmt_bytes, fmt_energy, fmt_seconds

MAX_LINES = 8  # series per figure; more variants of one workload get further figures
METRIC_TITLES = {"latency.p50": "median latency", "energy_per_inference": "energy per inference",
                 "mem_peak": "peak memory (RSS)"}


def when(ts: float | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(fmt) if ts else "–"


def _scale(metric: str, values: Sequence[float]) -> tuple[float, str, Callable[[float], str]]:
    """(divisor, axis label, cell formatter) for a metric."""
    store_name = METRICS[metric].store_name
    mid = sorted(values)[len(values) // 2] if values else 1.0
    if store_name.startswith("latency"):
        div, unit = next(((d, u) for d, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if mid >= d),
                         (1e-9, "ns"))
        return div, f"{METRIC_TITLES.get(metric, metric)} ({unit})", fmt_seconds
    if store_name.startswith("energy"):
        div, unit = (1.0, "J") if mid >= 1 else (1e-3, "mJ")
        return div, f"energy per inference ({unit})", fmt_energy
    if store_name.startswith("mem"):
        return 2.0**20, "peak RSS (MiB)", fmt_bytes
    return 1.0, metric, lambda v: f"{v:.4g}"


def _line_label(s: Series) -> str:
    k = s.key
    parts = ([k.precision] + ([k.pruning] if k.pruning != "none" else [])
             + ([k.params_key] if k.params_key else []))
    return " · ".join(parts)


class RunLabels:
    """Per run: its order key, table date and axis label, computed once per publish (not once per figure)."""

    def __init__(self, runs: dict[str, RunInfo], root: str) -> None:
        self.runs = runs
        self._row: dict[str, str] = {}
        self._axis: dict[str, str] = {}
        self.root = root

    def order(self, run_id: str) -> tuple[float, str]:
        info = self.runs.get(run_id)
        return (info.started_at if info else 0.0, run_id)

    def axis(self, run_id: str) -> str:
        if run_id not in self._axis:
            info = self.runs.get(run_id)
            self._axis[run_id] = when(info.started_at, "%m-%d") if info else run_id
        return self._axis[run_id]

    def row_head(self, run_id: str) -> str:
        """The first two cells of the run's table row (link and date), escaped."""
        if run_id not in self._row:
            info = self.runs.get(run_id)
            date = when(info.started_at if info else None, "%Y-%m-%d %H:%M")
            href = f"{self.root}runs/{slug(run_id)}.html"
            self._row[run_id] = (f'<tr><td><a href="{escape(href)}">{escape(run_id)}</a></td>'
                                 f'<td>{escape(date)}</td>')
        return self._row[run_id]


_MARKUP_CHARS = re.compile("[&<>\"']").search


def _esc(text: str) -> str:
    """``markupsafe.escape`` as a plain str, without its cost for text that needs none (formatted numbers)."""
    return str(escape(text)) if _MARKUP_CHARS(text) else text


@functools.lru_cache(maxsize=1024)
def _cell_attrs(cls: str, title: str | None) -> str:
    # few distinct (class, tooltip) pairs on a page: escaped once each
    t = f' title="{escape(title)}"' if title else ""
    return f'<td class="num {escape(cls)}"{t}>'


def _cell(text: str, cls: str, title: str | None) -> str:
    return f"{_cell_attrs(cls, title)}{_esc(text)}</td>"


def history_sections(series: Sequence[Series], labels: RunLabels) -> list[dict[str, Any]]:
    """One section per metric: figures of at most MAX_LINES series, each with its data table."""
    sections = []
    for metric in DEFAULT_METRICS:
        group = [s for s in series if s.metric == metric]
        if not group:
            continue
        figures = []
        for start in range(0, len(group), MAX_LINES):
            chunk = group[start:start + MAX_LINES]
            run_ids = sorted({p.run_id for s in chunk for p in s.points}, key=labels.order)
            pos = {r: i for i, r in enumerate(run_ids)}
            div, ylabel, fmt = _scale(metric, [p.value for s in chunk for p in s.points])
            lines, columns = [], []
            # per run row and series column: (text, css class, tooltip)
            cells: list[list[tuple[str, str, str | None]]] = [[("", "", None)] * len(chunk) for _ in run_ids]
            for c, s in enumerate(chunk):
                values: list[float | None] = [None] * len(run_ids)
                excluded = [False] * len(run_ids)
                for p in s.points:
                    i = pos[p.run_id]
                    values[i] = p.value / div
                    excluded[i] = p.excluded
                    cells[i][c] = (fmt(p.value), "excluded" if p.excluded else "", p.exclude_reason)
                for r in s.steps:
                    text, _, _ = cells[pos[r.run_id]][c]
                    cells[pos[r.run_id]][c] = (text + (" ▲" if r.direction == "worse" else " ▼"),
                                               "step-" + r.direction,
                                               f"{r.rel_change:+.1%} shift began here (p={r.p_value:.3g})")
                worse = [pos[r.run_id] for r in s.steps if r.direction == "worse"]
                better = [pos[r.run_id] for r in s.steps if r.direction == "better"]
                label = _line_label(s)
                lines.append(Line(label, values, excluded, worse, better))
                columns.append(label)
            title = f"{chunk[0].key.board} · {chunk[0].key.workload} · {METRIC_TITLES.get(metric, metric)}"
            body = "".join(labels.row_head(r) + "".join(_cell(*c) for c in cells[i]) + "</tr>"
                           for i, r in enumerate(run_ids))
            figures.append({"svg": trend_svg(title, [labels.axis(r) for r in run_ids], lines, ylabel),
                            "columns": columns, "body": Markup(body)})
        sections.append({"metric": metric, "title": METRIC_TITLES.get(metric, metric), "figures": figures,
                         "steps": [r for s in group for r in s.steps]})
    return sections
