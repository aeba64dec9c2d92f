"""The report in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
it renders the tables and plots, logs no console errors and makes no network requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path: Path, bb, bb_env, tiny_suite, watched_page):
    res = bb("run", "--suite", str(tiny_suite), "--db", "b.db", "--json", "-o", "report.html", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = tmp_path / json.loads(res.stdout)["report"]
    url = report.resolve().as_uri()
    page = watched_page.page
    page.goto(url, wait_until="load")
    rows = page.locator("#summary-table tbody tr").count()
    svgs = page.locator("figure svg").count()
    first_median = page.locator('#summary-table tbody tr td[data-col="latency.p50"]').first.inner_text()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert watched_page.console_errors == []
    assert watched_page.requests == [url]  # the file itself and nothing else
    assert rows == 3 and svgs >= 2
    assert first_median.endswith("s") and first_median[0].isdigit()
    assert (tmp_path / "report.png").stat().st_size > 10_000
