"""The canonical params text that ends every stored job key: a leaf module (stdlib only), so ``analysis/``
and ``report/`` can match jobs by it without importing ``config/`` (pydantic, yaml) or the agent protocol."""

from __future__ import annotations

import json
from typing import Any


def params_key(params: dict[str, Any]) -> str:
    """The params' canonical text (sorted compact JSON, ``{}`` → ``"{}"``), the one implementation. It ends
    every stored job key (``workload|backend|precision|pruning|{...}``): resume and cross-run matching compare
    it with keys stored by earlier runs, so its output for given params must never change."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
