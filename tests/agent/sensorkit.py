"""Helpers for the sensor tests: raw boards.md examples and the lab's fake vendor tools."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "data" / "sensors"
PERSONALITIES = TESTS / "lab" / "personalities"


def raw(name: str) -> str:
    return (FIXTURES / name).read_text()
