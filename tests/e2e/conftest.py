"""End-to-end helpers: run the real CLI in a subprocess against a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
                          text=True, timeout=timeout)


@pytest.fixture
def bb():  # type: ignore[no-untyped-def]
    """Run the real CLI: bb("run", ..., env=..., cwd=...) -> CompletedProcess."""
    return _bb
