"""End-to-end helpers: run the real CLI in a subprocess against a real SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TINY_SUITE = """\
name: tiny
description: small and fast, for tests
timing: {warmup_s: 0.02, min_value_s: 0.002, rounds: 2, values_per_round: 5, max_timed_s: 1}
sampling: {interval_s: 0.01, measure_overhead: false}
jobs:
  - workload: gemm
    backend: numpy
    precisions: [fp32]
    params: {m: 64, k: 64, n: 64}
  - workload: gemm
    precisions: [int8]
    params: {m: 64, k: 64, n: 64}
  - workload: triad
    precisions: [fp64]
    params: {n: 100000}
"""


@pytest.fixture(scope="session")
def tiny_suite_text() -> str:
    return TINY_SUITE


@pytest.fixture(scope="session")
def bb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bbcache")


@pytest.fixture
def bb_env(bb_cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["BENCHBENCH_CACHE"] = str(bb_cache)
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_SUITE)
    return p


def _bb(*args: str, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchbench", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)  # callers assert on the exit code


@pytest.fixture
def bb():  # type: ignore[no-untyped-def]
    """Run the real CLI: bb("run", ..., env=..., cwd=...) -> CompletedProcess."""
    return _bb


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# the flags that keep Debian's Chromium off the (closed) network and working as root in a container
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@dataclass
class WatchedPage:
    """A headless Chromium page that records console errors and every request it makes."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def watched_page() -> Iterator[WatchedPage]:
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Debian chromium is installed by .ci/setup"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        w = WatchedPage(browser.new_page(viewport={"width": 1400, "height": 900}))
        w.page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
        w.page.on("pageerror", lambda e: w.console_errors.append(str(e)))
        w.page.on("request", lambda r: w.requests.append(r.url))
        try:
            yield w
        finally:
            browser.close()
