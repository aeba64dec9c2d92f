"""Fixtures for the sensor tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sensorkit import PERSONALITIES


@pytest.fixture
def fake_tools(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Put a lab personality's fake vendor tools first on PATH: ``fake_tools("rpi", FAKE_X="1")``;
    keyword arguments become environment variables the fake tools read (their state)."""

    def use(family: str, **state: str) -> Path:
        monkeypatch.setenv("PATH", str(PERSONALITIES / family) + os.pathsep + os.environ.get("PATH", ""))
        for key, val in state.items():
            monkeypatch.setenv(key, val)
        return PERSONALITIES / family

    return use
