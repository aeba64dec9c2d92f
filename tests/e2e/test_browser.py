"""The report in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
it renders the tables and plots, logs no console errors and makes no network requests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def test_report_in_headless_chromium(tmp_path: Path, bb, bb_env, tiny_suite):
    assert Path(CHROMIUM).exists(), "Debian chromium is installed by .ci/run"
    res = bb("run", "--suite", str(tiny_suite), "--db", "b.db", "--json", "-o", "report.html", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = tmp_path / json.loads(res.stdout)["report"]
    url = report.resolve().as_uri()
    console_errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url, wait_until="load")
        rows = page.locator("#summary-table tbody tr").count()
        svgs = page.locator("figure svg").count()
        first_median = page.locator('#summary-table tbody tr td[data-col="latency.p50"]').first.inner_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert console_errors == []
    assert requests == [url]  # the file itself and nothing else
    assert rows == 3 and svgs >= 2
    assert first_median.endswith("s") and first_median[0].isdigit()
    assert (tmp_path / "report.png").stat().st_size > 10_000
