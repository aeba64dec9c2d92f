"""The published site in a real headless Chromium: the index, a history page and a run page render, log no
console errors and request nothing but the site's own file:// pages and stylesheet."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lab.storegen import matrix, store_run

from benchbench.cli.main import main
from benchbench.results.store import Store

pytestmark = pytest.mark.browser


@pytest.mark.slow
def test_site_in_headless_chromium(tmp_path: Path, watched_page) -> None:
    store = Store(tmp_path / "r.db")
    specs = matrix(["pi5", "rk3588"], ["resnet18"], ["fp32", "int8"])
    for i in range(12):
        store_run(store, f"n{i:02d}", specs, seed=i, started_at=1.7e9 + 86400 * i,
                  level_factor={"pi5": 1.1 if i >= 8 else 1.0})
    www = tmp_path / "www"
    res = CliRunner().invoke(main, ["publish", "--out", str(www), "--db", str(tmp_path / "r.db")])
    assert res.exit_code == 0, res.output
    site_root = www.resolve().as_uri() + "/"
    page = watched_page.page
    page.goto(site_root + "index.html", wait_until="load")
    runs_listed = page.locator("#runs-table tbody tr").count()
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    page.locator('a[href="history/pi5/resnet18.html"]').click()
    page.wait_for_load_state("load")
    history_url = page.url
    svgs = page.locator("figure.trend svg").count()
    tables = page.locator("figure.trend table").count()
    markers = page.locator("figure.trend td.step-worse").count()
    # site.css applied
    colour = page.locator("td.step-worse").first.evaluate("e => getComputedStyle(e).color")
    page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
    page.locator("figure.trend tbody tr a").last.click()  # a run's report, through a relative link
    page.wait_for_load_state("load")
    report_rows = page.locator("#summary-table tbody tr").count()
    page.screenshot(path=str(tmp_path / "run.png"))
    assert watched_page.console_errors == []
    requests = watched_page.requests
    assert all(u.startswith(site_root) for u in requests), requests
    assert {u[len(site_root):] for u in requests} >= {"index.html", "site.css", "history/pi5/resnet18.html",
                                                       "runs/n11.html"}
    assert history_url == site_root + "history/pi5/resnet18.html"
    assert runs_listed == 12 and svgs == 3 and tables == 3 and markers >= 2
    assert colour == "rgb(207, 34, 46)"
    assert report_rows == 4
    for shot in ("index.png", "history.png", "run.png"):
        assert (tmp_path / shot).stat().st_size > 10_000
