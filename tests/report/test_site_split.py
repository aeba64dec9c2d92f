"""`benchbench publish` of big runs: a summary page per run plus one page per board (relative links, shared
site.css, autoescaped), a comparison listing only changed rows, and incremental publishing over those
pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lab.storegen import matrix, store_run

from benchbench.report import render, site, siterun
from benchbench.report.comparepage import SITE_METRICS, compare_page
from benchbench.report.site import publish, slug
from benchbench.report.sitedata import site_run
from benchbench.results.store import Store

ODD = "orin <nano> & co"


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', html)


@pytest.fixture()
def small_split(monkeypatch: pytest.MonkeyPatch) -> None:
    # 8-job runs count as "big" here: the split path without a 2 000-job store
    monkeypatch.setattr(siterun, "SPLIT_ABOVE", 4)
    monkeypatch.setattr(site, "SPLIT_ABOVE", 4)


def test_big_runs_get_a_summary_and_board_pages(small_split: None, tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    specs = matrix(["pi5", ODD], ["resnet18", "mobilenet"], ["fp32", "int8"])
    for i in range(3):
        store_run(store, f"n{i:02d}", specs, seed=i, started_at=1.7e9 + 86400 * i,
                  level_factor={"pi5": 1.3 if i == 2 else 1.0})
    www = tmp_path / "www"
    res = publish(store, www)
    pages = sorted(str(p.relative_to(www)) for p in www.rglob("*.html"))
    for i in range(3):
        assert f"runs/n{i:02d}.html" in pages
        assert f"runs/n{i:02d}/pi5.html" in pages and f"runs/n{i:02d}/{slug(ODD)}.html" in pages
    for page in www.rglob("*.html"):
        html = page.read_text()
        assert "<script" not in html and "://" not in "".join(_links(html)), page
        for link in _links(html):
            if not link.startswith("#"):
                target = (page.parent / link.split("#")[0]).resolve()
                assert target.is_file() and www.resolve() in target.parents, (page, link)
    summary = (www / "runs/n02.html").read_text()
    assert "orin &lt;nano&gt; &amp; co" in summary and ODD not in summary
    assert 'href="n02-vs-n01.html"' in summary and "benchbench report --run n02" in summary
    board = (www / "runs/n02/pi5.html").read_text()
    assert board.count("<tr id=") == 4 and 'href="../../site.css"' in board and "<style" not in board
    cmp_page = (www / "runs/n02-vs-n01.html").read_text()
    # pi5 got 30 % slower
    assert "other row(s) (unchanged or smaller changes) are not" in cmp_page and "v-worse" in cmp_page

    again = publish(store, www)
    assert again.written == [] and sorted(again.pages) == sorted(res.pages)
    (www / "runs/n01/pi5.html").write_text("tampered")
    fixed = publish(store, www)
    assert fixed.written == ["runs/n01/pi5.html"]  # the run is made again; only the damaged page differs
    assert "<tr id=" in (www / "runs/n01/pi5.html").read_text()


def test_lean_load_gives_the_same_pages(tmp_path: Path) -> None:
    """Big runs are read without the columns their pages do not show: the pages must not change."""
    store = Store(tmp_path / "r.db")
    specs = matrix(["pi5", ODD], ["resnet18"], ["fp32", "int8"])
    for i in range(2):
        store_run(store, f"n{i:02d}", specs, seed=i, started_at=1.7e9 + 86400 * i,
                  throttled=frozenset({ODD}) if i == 1 else frozenset())
    full = [store.load_run(f"n{i:02d}") for i in range(2)]
    lean = [site_run(store, f"n{i:02d}") for i in range(2)]
    assert any(j.details.get("throttle", {}).get("throttled") for j in lean[1].jobs)
    env = render.environment()
    assert siterun.split_pages(lean[1], env, None) == siterun.split_pages(full[1], env, None)
    for changed_only in (False, True):
        assert compare_page(*lean, metrics=SITE_METRICS, root="../", changed_only=changed_only) == \
            compare_page(*full, metrics=SITE_METRICS, root="../", changed_only=changed_only)
