"""``benchbench publish``: a static site from the results store.

Pages (every link relative, so the site works from ``file://`` and any static host)::

    index.html                         runs, newest first; history pages per board; the regressions page
    runs/<run>.html                    the run's self-contained report (``render.render_run``); for a run
                                       of thousands of jobs a summary, with one page per board:
    runs/<run>/<board>.html            (see ``siterun``)
    runs/<run>-vs-<previous>.html      the run compared with the previous run of its suite (``comparepage``)
    history/<board>/<workload>.html    trend plots per metric with regression markers, a table beside each
    regressions.html                   every regression across the fleet, largest first
    devices.html                       boards side by side per model × precision × pruning (latest values)
    site.css                           shared by the site pages

Incremental: ``manifest.json`` records a content hash per page and a key of what the page is made from.
A run or comparison page whose runs did not change since the last publish is not even rendered; nor are
the history, index and devices pages when no run changed, nor the regressions page when its rows are the
same. Any page that is rendered is written only when its bytes differ, so unchanged files keep their mtime.
With ``workers`` > 1 run/comparison pages and step detection run in a process pool meanwhile; a run's
pages and its comparison are made by one task, which reads each run once.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import multiprocessing
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..analysis.history import DEFAULT_METRICS, Regression, Series, build_history, fleet_regressions
from ..errors import StoreError
from ..results.records import RunInfo
from ..results.store import Store
from .devices import devices_view
from .paths import slug
from .render import environment
from .sitedata import history_entries
from .sitehistory import METRIC_TITLES, RunLabels, history_sections, when
from .siterun import SPLIT_ABOVE, Unit, board_href, render_chain, run_href

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_TEMPLATES = ("report.html.j2", "report.css", "compare.html.j2", "site_base.html.j2", "site_index.html.j2",
              "site_history.html.j2", "site_regressions.html.j2", "site_devices.html.j2", "site.css",
              "site_run.html.j2", "site_run_board.html.j2")


@dataclass
class PublishResult:
    pages: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


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

    def intact(self, rel: str, key: str) -> bool:
        """The page was made from the same inputs and is intact on disk (nothing is recorded)."""
        entry = self.old.get(rel)
        return bool(entry and entry.get("key") == key and self._on_disk(rel) == entry.get("sha256"))

    def fresh(self, rel: str, key: str) -> bool:
        """True (and the page is kept) when it was made from the same inputs and is intact on disk."""
        entry = self.old.get(rel)
        if entry and self.intact(rel, key):
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


def _template_fingerprint(env: Any) -> str:
    h = hashlib.sha256(__version__.encode())
    for name in _TEMPLATES:
        src, _, _ = env.loader.get_source(env, name)
        h.update(src.encode())
    return h.hexdigest()


def _reg_row(r: Regression, runs: dict[str, RunInfo], hist: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {"label": r.key.label(), "metric": METRIC_TITLES.get(r.metric, r.metric), "run": r.run_id,
            "run_href": f"runs/{slug(r.run_id)}.html", "previous": r.previous_run_id,
            "previous_href": f"runs/{slug(r.previous_run_id)}.html",
            "date": when(runs[r.run_id].started_at) if r.run_id in runs else "–",
            "change": f"{r.rel_change:+.1%}", "p": f"{r.p_value:.3g}",
            "history_href": hist.get((r.key.board, r.key.workload), "index.html")}


@contextmanager
def _no_gc() -> Iterator[None]:
    """Cyclic garbage collection paused: reading the history allocates some 10⁶ acyclic objects (rows,
    samples, points), and each allocation burst would start a full collection over all of them, a third
    of the read's CPU time. Nothing made here needs the cycle collector; it runs again afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def predecessors(infos: list[RunInfo]) -> dict[str, str]:
    """Each run's predecessor: the latest earlier run of the same suite (``infos`` newest first)."""
    out: dict[str, str] = {}
    for i, info in enumerate(infos):
        prev = next((o for o in infos[i + 1:] if o.suite_name == info.suite_name), None)
        if prev is not None:
            out[info.run_id] = prev.run_id
    return out


def compare_href(run_id: str, previous: str) -> str:
    return f"runs/{slug(run_id)}-vs-{slug(previous)}.html"


def _warm() -> None:
    """First task of each pool process: unpickling it imports this module, hence report rendering and
    step detection, while the parent reads the history."""


def _pool(store: Store, workers: int) -> ProcessPoolExecutor | None:
    if workers <= 1 or store.url.startswith("sqlite://") and ":memory:" in store.url:
        return None
    # spawn: no fork of a live database engine
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(workers):
        pool.submit(_warm)
    return pool


def _key(*parts: Any) -> str:
    return _sha(json.dumps(parts, sort_keys=True, default=str).encode())


def publish(store: Store, out_dir: Path, template_dir: Path | None = None, workers: int = 1) -> PublishResult:
    """Write (or update) the site in ``out_dir``; see the module docstring for the layout.

    ``workers`` > 1: changed run pages are rendered and step detection runs in that many processes, while
    this one reads the history and writes the history pages.
    """
    env = environment(template_dir)
    fingerprint = _template_fingerprint(env)
    writer = _SiteWriter(out_dir)
    infos = store.list_runs()  # newest first
    prev = predecessors(infos)
    run_keys = {i.run_id: _key(i.run_id, i.status, i.finished_at, i.n_jobs, fingerprint) for i in infos}
    cmp_rels = {rid: compare_href(rid, p) for rid, p in prev.items()}
    sizes = {i.run_id: i.n_jobs for i in infos}
    keys: dict[str, str] = {}  # page -> key, for the pages rendered now
    units: list[Unit] = []
    for info in sorted(infos, key=lambda i: (i.suite_name or "", i.started_at or 0.0, i.run_id)):
        rid = info.run_id
        stale_run = not _run_fresh(writer, rid, run_keys[rid])
        cmp_rel = None
        if rid in prev:
            key = _key("compare", run_keys[prev[rid]], run_keys[rid])
            if not writer.fresh(cmp_rels[rid], key):
                cmp_rel, keys[cmp_rels[rid]] = cmp_rels[rid], key
        if stale_run or cmp_rel:
            units.append(Unit(rid, prev.get(rid), stale_run, cmp_rel))
    pool = _pool(store, workers)
    try:
        pending: list[Future[dict[str, str]]] = []
        if pool is not None:
            pending = [pool.submit(render_chain, store.url, chunk, cmp_rels, sizes, template_dir)
                       for chunk in _chunks(units, workers)]
        else:
            with _no_gc():  # a run's records are many small acyclic objects too
                _write_pages(writer, render_chain(store, units, cmp_rels, sizes, template_dir), keys,
                             run_keys)
        with _no_gc():
            _aggregate_pages(store, env, writer, infos, fingerprint,
                             _key(sorted(run_keys.values()), fingerprint), pool)
        for fut in pending:
            _write_pages(writer, fut.result(), keys, run_keys)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return writer.finish()


def _run_fresh(writer: _SiteWriter, run_id: str, key: str) -> bool:
    """A run's page (and its board pages, when it was split) made from the same inputs and intact."""
    rel = run_href(run_id)
    subs = [r for r in writer.old if r.startswith(f"runs/{slug(run_id)}/")]
    if not all(writer.intact(r, key) for r in [rel, *subs]):
        return False
    for r in [rel, *subs]:
        writer.fresh(r, key)
    return True


def _chunks(units: list[Unit], workers: int) -> list[list[Unit]]:
    """Consecutive runs per task (each run is then read once; a chunk's first comparison reads one more),
    a few tasks per worker so they finish together."""
    n = max(1, -(-len(units) // (3 * workers)))
    return [units[i:i + n] for i in range(0, len(units), n)]


def _write_pages(writer: _SiteWriter, pages: dict[str, str], keys: dict[str, str],
                 run_keys: dict[str, str]) -> None:
    by_slug = {slug(r): k for r, k in run_keys.items()}
    for rel, html in pages.items():
        # a comparison has its own key; a run page or board page carries its run's
        key = keys.get(rel) or by_slug[rel[len("runs/"):].split("/")[0].removesuffix(".html")]
        writer.write(rel, html, key)


#: pages made from every run's jobs together: unchanged when no run changed (their key says so)
_AGGREGATE = ("index.html", "regressions.html", "devices.html", "site.css")  # and history/*


def _aggregate_pages(store: Store, env: Any, writer: _SiteWriter, infos: list[RunInfo], fingerprint: str,
                     site_key: str, pool: ProcessPoolExecutor | None) -> None:
    """History pages, regressions, boards side by side, index. A run's content is fixed once its
    (id, status, finished_at, job count) is (the run pages rely on the same), so when no run and no
    template changed since the last publish, and these pages are intact, nothing is read or rendered."""
    same = [rel for rel, e in writer.old.items() if rel.startswith("history/") and e.get("key") == site_key]
    same += [rel for rel in _AGGREGATE if rel != "regressions.html"]
    reg_old = writer.old.get("regressions.html", {}).get("key", "")
    if len(same) > len(_AGGREGATE) - 1 and all(writer.intact(rel, site_key) for rel in same) \
            and writer.intact("regressions.html", reg_old):  # its rows follow from the same runs
        for rel in same:
            writer.fresh(rel, site_key)
        writer.fresh("regressions.html", reg_old)
        return
    runs = {r.run_id: r for r in infos}
    prev = predecessors(infos)
    entries = history_entries(store, DEFAULT_METRICS)
    series = build_history(entries, DEFAULT_METRICS, executor=pool)
    by_page: dict[tuple[str, str], list[Series]] = defaultdict(list)
    for s in series:
        by_page[(s.key.board, s.key.workload)].append(s)
    hist_href = {bw: f"history/{slug(bw[0])}/{slug(bw[1])}.html" for bw in by_page}
    regs = fleet_regressions(series)
    reg_rows = [_reg_row(r, runs, hist_href) for r in regs]
    writer.write("site.css", env.get_template("site.css").render(), site_key)
    labels = RunLabels(runs, "../../")
    page_tpl = env.get_template("site_history.html.j2")
    for (board, workload), group in sorted(by_page.items()):
        page = page_tpl.render(
            root="../../", title=f"{board} · {workload}", board=board, workload=workload,
            sections=history_sections(group, labels),
            regressions=[row for row, r in zip(reg_rows, regs)
                         if (r.key.board, r.key.workload) == (board, workload)])
        writer.write(hist_href[(board, workload)], page, site_key)
    # the regressions page depends on its rows alone: not even rendered when they are the same as last time
    reg_key = _key(reg_rows, fingerprint)
    if not writer.fresh("regressions.html", reg_key):
        writer.write("regressions.html", env.get_template("site_regressions.html.j2").render(
            root="", title="Regressions across the fleet", regressions=reg_rows), reg_key)
    writer.write("devices.html", env.get_template("site_devices.html.j2").render(
        root="", title="Boards side by side",
        groups=devices_view(entries, {r: f"runs/{slug(r)}.html" for r in runs})), site_key)
    starts: dict[str, int] = defaultdict(int)
    for r in regs:
        starts[r.run_id] += 1
    boards: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (board, workload), href in sorted(hist_href.items()):
        boards[board].append((workload, href))
    writer.write("index.html", env.get_template("site_index.html.j2").render(
        root="", title="benchbench results", version=__version__,
        runs=[{"id": r.run_id, "href": f"runs/{slug(r.run_id)}.html", "suite": r.suite_name,
               "status": r.status, "previous": prev.get(r.run_id),
               "compare_href": compare_href(r.run_id, prev[r.run_id]) if r.run_id in prev else None,
               "started": when(r.started_at), "finished": when(r.finished_at), "jobs": r.n_jobs,
               "regressions": starts.get(r.run_id, 0)} for r in infos],
        boards=sorted(boards.items()), n_regressions=len(regs), top_regressions=reg_rows[:10],
        latest=_latest_findings(store, infos)), site_key)


def _latest_findings(store: Store, infos: list[RunInfo]) -> dict[str, Any] | None:
    """The newest run's findings for the index (links point into its report page)."""
    if not infos:
        return None
    from ..analysis.findings import run_findings
    from .findingsview import findings_view

    run = store.load_run(infos[0].run_id)
    view = findings_view(run_findings(run.jobs, run.boards))
    if len(run.jobs) > SPLIT_ABOVE:  # a split run: each board × model's evidence is on its board's page
        for g in view["groups"]:
            g["page_href"] = board_href(run.info.run_id, g["board"])
    return {"id": infos[0].run_id, "href": run_href(infos[0].run_id), **view}
