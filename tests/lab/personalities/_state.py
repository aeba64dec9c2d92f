"""State shared by the fake vendor tools: a JSON file named by $FAKE_BOARD_STATE (re-read on every call,
so a test can change a board's readings while a job runs), else the defaults."""

from __future__ import annotations

import json
import os
from typing import Any


def load(defaults: dict[str, Any]) -> dict[str, Any]:
    state = dict(defaults)
    path = os.environ.get("FAKE_BOARD_STATE")
    if path and os.path.exists(path):
        with open(path) as fh:
            state.update(json.load(fh))
    return state
