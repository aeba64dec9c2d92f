"""pytest plugin used only by ``pytest_jobs.collect`` (``-p benchbench.workloads.pytest_collect``): writes
every collected test's node id and whether it requests pytest-benchmark's ``benchmark`` fixture to a JSON
file."""

from __future__ import annotations

import json

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bb-collect-out", default=None, help="write collected node ids (JSON) here")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    out = config.getoption("--bb-collect-out")
    if out:
        tests = [{"nodeid": it.nodeid, "benchmark": "benchmark" in getattr(it, "fixturenames", ())}
                 for it in items]
        with open(out, "w") as fh:
            json.dump(tests, fh)
