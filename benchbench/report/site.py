"""``benchbench publish``: a static site from the results store.

Pages (every link relative, so the site works from ``file://`` and any static host)::

    index.html                         runs, newest first; history pages per board; the regressions page
    runs/<run>.html                    the run's self-contained report (``render.render_run``)
    history/<board>/<workload>.html    trend plots per metric with regression markers, a table beside each
    regressions.html                   every regression across the fleet, largest first
    devices.html                       boards side by side per model × precision × pruning (latest values)
    site.css                           shared by the site pages

Incremental: ``manifest.json`` records a content hash per page (and, for run pages, a key of what the
page is made from). A run page whose run did not change since the last publish is not even rendered; any
other page is rendered and written only when its bytes differ, so unchanged files keep their mtime.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis.gates import METRICS
from ..analysis.history import DEFAULT_METRICS, Regression, Series, build_history, fleet_regressions
from ..errors import StoreError
from ..results.records import RunInfo
from ..results.store import Store
from .devices import devices_view
from .model import fmt_bytes, fmt_energy, fmt_seconds
from .render import environment, render_run
from .sitedata import history_entries
from .svgplot import Line, trend_svg

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAX_LINES = 8  # series per figure; more variants of one workload get further figures
_TEMPLATES = ("report.html.j2", "report.css", "site_base.html.j2", "site_index.html.j2",
              "site_history.html.j2", "site_regressions.html.j2", "site_devices.html.j2", "site.css")
_METRIC_TITLES = {"latency.p50": "median latency", "energy_per_inference": "energy per inference",
                  "mem_peak": "peak memory (RSS)"}


@dataclass
class PublishResult:
    pages: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """A file-name-safe, collision-free form of a run/board/workload name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]
    if safe != name or safe.startswith(".") or not safe:
        safe = f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return safe


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _SiteWriter:
    """Writes pages atomically, only when their bytes change; keeps the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.old: dict[str, dict[str, str]] = {}
        try:
            doc = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
            self.old = dict(doc.get("pages", {})) if doc.get("format") == 1 else {}
        except (OSError, ValueError):
            self.old = {}
        self.new: dict[str, dict[str, str]] = {}
        self.result = PublishResult()

    def _on_disk(self, rel: str) -> str | None:
        try:
            return _sha((self.root / rel).read_bytes())
        except OSError:
            return None

    def fresh(self, rel: str, key: str) -> bool:
        """True (and the page is kept) when it was made from the same inputs and is intact on disk."""
        entry = self.old.get(rel)
        if entry and entry.get("key") == key and self._on_disk(rel) == entry.get("sha256"):
            self.new[rel] = entry
            self.result.pages.append(rel)
            self.result.unchanged.append(rel)
            return True
        return False

    def write(self, rel: str, text: str, key: str | None = None) -> None:
        data = text.encode("utf-8")
        digest = _sha(data)
        self.new[rel] = {"sha256": digest, **({"key": key} if key else {})}
        self.result.pages.append(rel)
        if self.old.get(rel, {}).get("sha256") == digest and self._on_disk(rel) == digest:
            self.result.unchanged.append(rel)
            return
        path = self.root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror}") from None
        self.result.written.append(rel)

    def finish(self) -> PublishResult:
        for rel in sorted(set(self.old) - set(self.new)):
            try:
                (self.root / rel).unlink()
                self.result.removed.append(rel)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove stale page %s: %s", rel, exc.strerror)
        text = json.dumps({"format": 1, "generator": f"benchbench {__version__}", "pages": self.new},
                          indent=1, sort_keys=True) + "\n"
        mpath = self.root / MANIFEST
        try:
            if not mpath.exists() or mpath.read_text(encoding="utf-8") != text:
                mpath.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot write {mpath}: {exc.strerror}") from None
        return self.result


def _when(ts: float | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(fmt) if ts else "–"


def _scale(metric: str, values: Sequence[float]) -> tuple[float, str, Any]:
    """(divisor, axis label, cell formatter) for a metric."""
    store_name = METRICS[metric].store_name
    mid = sorted(values)[len(values) // 2] if values else 1.0
    if store_name.startswith("latency"):
        div, unit = next(((d, u) for d, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if mid >= d), (1e-9, "ns"))
        return div, f"{_METRIC_TITLES.get(metric, metric)} ({unit})", fmt_seconds
    if store_name.startswith("energy"):
        div, unit = (1.0, "J") if mid >= 1 else (1e-3, "mJ")
        return div, f"energy per inference ({unit})", fmt_energy
    if store_name.startswith("mem"):
        return 2.0**20, "peak RSS (MiB)", fmt_bytes
    return 1.0, metric, lambda v: f"{v:.4g}"


def _line_label(s: Series) -> str:
    k = s.key
    parts = [k.precision] + ([k.pruning] if k.pruning != "none" else []) + ([k.params_key] if k.params_key else [])
    return " · ".join(parts)


def _history_sections(series: Sequence[Series], runs: dict[str, RunInfo], root: str) -> list[dict[str, Any]]:
    """One section per metric: figures of at most MAX_LINES series, each with its data table."""
    sections = []
    for metric in DEFAULT_METRICS:
        group = [s for s in series if s.metric == metric]
        if not group:
            continue
        figures = []
        for start in range(0, len(group), MAX_LINES):
            chunk = group[start:start + MAX_LINES]
            run_ids = sorted({p.run_id for s in chunk for p in s.points},
                             key=lambda r: (runs[r].started_at if r in runs else 0.0, r))
            pos = {r: i for i, r in enumerate(run_ids)}
            div, ylabel, fmt = _scale(metric, [p.value for s in chunk for p in s.points])
            lines, columns = [], []
            cells: list[list[dict[str, Any]]] = [[{"text": ""} for _ in chunk] for _ in run_ids]
            for c, s in enumerate(chunk):
                values: list[float | None] = [None] * len(run_ids)
                excluded = [False] * len(run_ids)
                for p in s.points:
                    i = pos[p.run_id]
                    values[i] = p.value / div
                    excluded[i] = p.excluded
                    cells[i][c] = {"text": fmt(p.value), "title": p.exclude_reason,
                                   "cls": "excluded" if p.excluded else ""}
                worse = [pos[r.run_id] for r in s.steps if r.direction == "worse"]
                better = [pos[r.run_id] for r in s.steps if r.direction == "better"]
                for r in s.steps:
                    cell = cells[pos[r.run_id]][c]
                    cell["text"] += " ▲" if r.direction == "worse" else " ▼"
                    cell["title"] = f"{r.rel_change:+.1%} shift began here (p={r.p_value:.3g})"
                    cell["cls"] = "step-" + r.direction
                label = _line_label(s)
                lines.append(Line(label, values, excluded, worse, better))
                columns.append(label)
            title = f"{chunk[0].key.board} · {chunk[0].key.workload} · {_METRIC_TITLES.get(metric, metric)}"
            rows = [{"run": r, "href": f"{root}runs/{slug(r)}.html", "date": _when(runs[r].started_at if r in runs
                     else None, "%Y-%m-%d %H:%M"), "cells": cells[i]} for i, r in enumerate(run_ids)]
            figures.append({"svg": trend_svg(title, [_when(runs[r].started_at, "%m-%d") if r in runs else r
                                                     for r in run_ids], lines, ylabel),
                            "columns": columns, "rows": rows})
        sections.append({"metric": metric, "title": _METRIC_TITLES.get(metric, metric), "figures": figures,
                         "steps": [r for s in group for r in s.steps]})
    return sections


def _template_fingerprint(env: Any) -> str:
    h = hashlib.sha256(__version__.encode())
    for name in _TEMPLATES:
        src, _, _ = env.loader.get_source(env, name)
        h.update(src.encode())
    return h.hexdigest()


def _reg_row(r: Regression, runs: dict[str, RunInfo], hist: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {"label": r.key.label(), "metric": _METRIC_TITLES.get(r.metric, r.metric), "run": r.run_id,
            "run_href": f"runs/{slug(r.run_id)}.html", "previous": r.previous_run_id,
            "previous_href": f"runs/{slug(r.previous_run_id)}.html",
            "date": _when(runs[r.run_id].started_at) if r.run_id in runs else "–",
            "change": f"{r.rel_change:+.1%}", "p": f"{r.p_value:.3g}",
            "history_href": hist.get((r.key.board, r.key.workload), "index.html")}


def _render_one(url: str, run_id: str, template_dir: Path | None) -> str:
    return render_run(Store(url).load_run(run_id), template_dir)


def _render_runs(store: Store, stale: list[tuple[str, str, str]], template_dir: Path | None,
                 workers: int) -> Iterator[tuple[str, str, str]]:
    """(page, html, key) per stale run page; several processes when asked and worth it (cold builds)."""
    if workers <= 1 or len(stale) < 2 or store.url.startswith("sqlite://") and ":memory:" in store.url:
        for run_id, rel, key in stale:
            yield rel, render_run(store.load_run(run_id), template_dir), key
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a live engine / matplotlib state
    with ProcessPoolExecutor(max_workers=min(workers, len(stale)), mp_context=ctx) as pool:
        futures = [(rel, key, pool.submit(_render_one, store.url, run_id, template_dir))
                   for run_id, rel, key in stale]
        for rel, key, fut in futures:
            yield rel, fut.result(), key


def publish(store: Store, out_dir: Path, template_dir: Path | None = None, workers: int = 1) -> PublishResult:
    """Write (or update) the site in ``out_dir``; see the module docstring for the layout.

    ``workers`` > 1 renders changed run pages in that many processes (a first publish of a large store).
    """
    env = environment(template_dir)
    fingerprint = _template_fingerprint(env)
    writer = _SiteWriter(out_dir)
    infos = store.list_runs()  # newest first
    runs = {r.run_id: r for r in infos}
    stale: list[tuple[str, str, str]] = []
    for info in infos:
        rel = f"runs/{slug(info.run_id)}.html"
        key = _sha(json.dumps([info.run_id, info.status, info.finished_at, info.n_jobs, fingerprint]).encode())
        if not writer.fresh(rel, key):
            stale.append((info.run_id, rel, key))
    for rel, html, key in _render_runs(store, stale, template_dir, workers):
        writer.write(rel, html, key)
    entries = history_entries(store, DEFAULT_METRICS)
    series = build_history(entries, DEFAULT_METRICS)
    by_page: dict[tuple[str, str], list[Series]] = defaultdict(list)
    for s in series:
        by_page[(s.key.board, s.key.workload)].append(s)
    hist_href = {bw: f"history/{slug(bw[0])}/{slug(bw[1])}.html" for bw in by_page}
    regs = fleet_regressions(series)
    reg_rows = [_reg_row(r, runs, hist_href) for r in regs]
    writer.write("site.css", env.get_template("site.css").render())
    for (board, workload), group in sorted(by_page.items()):
        page = env.get_template("site_history.html.j2").render(
            root="../../", title=f"{board} · {workload}", board=board, workload=workload,
            sections=_history_sections(group, runs, "../../"),
            regressions=[row for row, r in zip(reg_rows, regs) if (r.key.board, r.key.workload) == (board, workload)])
        writer.write(hist_href[(board, workload)], page)
    writer.write("regressions.html", env.get_template("site_regressions.html.j2").render(
        root="", title="Regressions across the fleet", regressions=reg_rows))
    writer.write("devices.html", env.get_template("site_devices.html.j2").render(
        root="", title="Boards side by side",
        groups=devices_view(entries, {r: f"runs/{slug(r)}.html" for r in runs})))
    starts: dict[str, int] = defaultdict(int)
    for r in regs:
        starts[r.run_id] += 1
    boards: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (board, workload), href in sorted(hist_href.items()):
        boards[board].append((workload, href))
    writer.write("index.html", env.get_template("site_index.html.j2").render(
        root="", title="benchbench results", version=__version__,
        runs=[{"id": r.run_id, "href": f"runs/{slug(r.run_id)}.html", "suite": r.suite_name, "status": r.status,
               "started": _when(r.started_at), "finished": _when(r.finished_at), "jobs": r.n_jobs,
               "regressions": starts.get(r.run_id, 0)} for r in infos],
        boards=sorted(boards.items()), n_regressions=len(regs)))
    return writer.finish()
