"""What the default run leaves out: ``perf`` benchmarks and ``heavy`` matrices run only when a ``-m``
expression names them (``-m perf``, ``-m heavy``), so ``-m "not slow"`` narrows the default run to the fast
developer loop instead of widening it to everything. Imported by tests/conftest.py."""

from __future__ import annotations

import pytest

ON_DEMAND = ("perf", "heavy")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expr = config.getoption("markexpr") or ""
    left_out = [m for m in ON_DEMAND if m not in expr]
    drop = [item for item in items if any(item.get_closest_marker(m) for m in left_out)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]
