"""A run's pages in the published site.

A run of up to :data:`SPLIT_ABOVE` jobs gets its full report (``render.render_run``) as ``runs/<run>.html``.
A bigger run (a lab's nightly: thousands of jobs) gets a summary page there and one page per board,
``runs/<run>/<board>.html``, holding that board's summary rows and failures, styled by the shared
``site.css``. The full report of such a run — latency distributions, bars, matrix, per-job details — is
``benchbench report --run <run>``: rendering it for every stored run made a cold site of 50 × 2 000 jobs take
over a minute and 430 MB, most of it figures and JSON that nobody browses across fifty nights.

The run pages and the comparison with the predecessor are made together (:func:`render_chain`), so each
run is read from the store once, not once for its page and once per comparison it is in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results.records import JobRecord, Metric, RunData
from ..results.store import Store
from .comparepage import SITE_METRICS, compare_page
from .paths import slug
from .render import environment, render_run
from .sitedata import site_run
from .sitehistory import when
from .viewmodel import fmt_bytes, fmt_energy, fmt_seconds, row_anchor

#: runs with more jobs than this get a summary page and one page per board
SPLIT_ABOVE = 400


def run_href(run_id: str) -> str:
    return f"runs/{slug(run_id)}.html"


def board_href(run_id: str, board: str) -> str:
    return f"runs/{slug(run_id)}/{slug(board)}.html"


@dataclass(frozen=True)
class Unit:
    """What to make for one run: its own pages and/or its comparison with ``previous``."""

    run_id: str
    previous: str | None
    run_pages: bool
    compare_rel: str | None  # the comparison page to make, None when it is fresh


def _cell(m: Metric | None, fmt: Any) -> tuple[str, str | None]:
    """(text, hover) of one metric; 'unavailable' says why on hover."""
    if m is None:
        return "–", None
    if m.value is None:
        return "unavailable", m.unavailable_reason or "not measured"
    text = fmt(m.value)
    return text, "; ".join(x for x in (f"scope: {m.scope}" if m.scope else None, m.source) if x) or None


_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("latency.p50", "median", fmt_seconds), ("latency.p90", "p90", fmt_seconds),
    ("latency.p99", "p99", fmt_seconds), ("throughput.items", "items/s", lambda v: f"{v:.4g}"),
    ("mem.peak_rss", "peak RSS", fmt_bytes), ("power.mean", "power", lambda v: f"{v:.3g} W"),
    ("energy.per_inference", "energy / inference", fmt_energy),
    ("temp.max", "max temp", lambda v: f"{v:.1f} °C"))


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())
                     if v is not None and k not in ("input_shapes", "decode_artifact", "inputs_npz"))


def _board_rows(jobs: Sequence[JobRecord]) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]],
                                                    list[dict[str, Any]]]:
    """((label, shared hover) of the columns some job measured, ok rows, failed rows) for one board's page."""
    ok, failed = [], []
    by_name = [{m.name: m for m in j.metrics} for j in jobs]
    cols = [c for c in _COLUMNS if any(c[0] in d for d, j in zip(by_name, jobs) if j.status == "ok")]
    for j, d in sorted(zip(jobs, by_name), key=lambda x: (x[0].workload, _params(x[0].params), x[0].precision,
                                                          x[0].pruning, x[0].backend)):
        base = {"id": row_anchor(j.board, j.job_key), "workload": j.workload, "params": _params(j.params),
                "precision": j.precision, "pruning": j.pruning, "backend": j.backend}
        if j.status != "ok":
            failed.append({**base, "status": j.status, "reason": j.reason or ""})
            continue
        lo, hi = d.get("latency.ci95_lo"), d.get("latency.ci95_hi")
        ci = f"{fmt_seconds(lo.value)} – {fmt_seconds(hi.value)}" if lo and hi and lo.value is not None \
            and hi.value is not None else "–"
        ok.append({**base, "cells": [_cell(d.get(name), fmt) for name, _, fmt in cols], "ci": ci,
                   "window": j.timed_window or "–", "warnings": "; ".join(w.message for w in j.warnings)})
    # a hover every row shares (same sensor, same source) is said once on the column header
    shared: list[str | None] = []
    for i in range(len(cols)):
        hovers = {r["cells"][i][1] for r in ok}
        shared.append(hovers.pop() if len(hovers) == 1 else None)
    for r in ok:
        r["cells"] = [(text, None if hover == shared[i] else hover)
                      for i, (text, hover) in enumerate(r["cells"])]
    return [(label, shared[i]) for i, (_, label, _) in enumerate(cols)], ok, failed


def split_pages(run: RunData, env: Any, compare_rel: str | None) -> dict[str, str]:
    """Summary + per-board pages of a big run (paths relative to the site root)."""
    info = run.info
    by_board: dict[str, list[JobRecord]] = defaultdict(list)
    for j in run.jobs:
        by_board[j.board].append(j)
    states = {b.board: b for b in run.boards}
    pages: dict[str, str] = {}
    boards = []
    tpl = env.get_template("site_run_board.html.j2")
    for board in sorted(set(by_board) | set(states)):
        jobs = by_board.get(board, [])
        cols, ok, failed = _board_rows(jobs)
        href = board_href(info.run_id, board)
        state = states.get(board)
        boards.append({"board": board, "href": href[len("runs/"):], "ok": len(ok), "failed": len(failed),
                       "status": state.status if state else "–",
                       "reason": (state.reason if state else None) or "",
                       "warned": sum(1 for r in ok if r["warnings"])})
        pages[href] = tpl.render(root="../../", title=f"{info.run_id} · {board}", run_id=info.run_id,
                                 run_href=f"../{slug(info.run_id)}.html", columns=cols, rows=ok,
                                 failed=failed, snapshot=state.snapshot if state else {})
    pages[run_href(info.run_id)] = env.get_template("site_run.html.j2").render(
        root="../", title=f"benchbench report — {info.suite_name} — {info.run_id}", run_id=info.run_id,
        suite=info.suite_name, status=info.status, started=when(info.started_at),
        finished=when(info.finished_at), version=info.tool_version, n_jobs=len(run.jobs), boards=boards,
        split_above=SPLIT_ABOVE, compare_href=compare_rel[len("runs/"):] if compare_rel else None)
    return pages


def run_pages(run: RunData, template_dir: Path | None, compare_rel: str | None) -> dict[str, str]:
    if len(run.jobs) <= SPLIT_ABOVE:
        return {run_href(run.info.run_id): render_run(run, template_dir)}
    return split_pages(run, environment(template_dir), compare_rel)


def render_chain(store: Store | str, units: Sequence[Unit], compare_rels: dict[str, str],
                 sizes: dict[str, int], template_dir: Path | None) -> dict[str, str]:
    """Pages of consecutive runs of one suite (oldest first); each run is loaded once (a big one without
    what its pages do not show, ``sitedata.site_run``). ``store``: a URL in a pool process. ``compare_rels``:
    each run's comparison page, for the link from its summary; ``sizes``: each run's job count."""
    store = Store(store, readonly=True) if isinstance(store, str) else store
    loaded: dict[str, RunData] = {}
    out: dict[str, str] = {}
    for u in units:
        wanted = {u.run_id} | ({u.previous} if u.compare_rel and u.previous else set())
        loaded = {k: v for k, v in loaded.items() if k in wanted}  # keep the one the next unit compares with
        for rid in sorted(wanted - set(loaded)):
            loaded[rid] = site_run(store, rid) if sizes.get(rid, 0) > SPLIT_ABOVE else store.load_run(rid)
        run = loaded[u.run_id]
        if u.run_pages:
            out.update(run_pages(run, template_dir, compare_rels.get(u.run_id)))
        if u.compare_rel and u.previous:
            big = len(run.jobs) > SPLIT_ABOVE
            out[u.compare_rel] = compare_page(loaded[u.previous], run, metrics=SITE_METRICS,
                                              template_dir=template_dir, root="../", changed_only=big)
    return out
