"""Resuming a run on a board: stop an agent left over from a lost controller, so two measurements never
overlap on one board, before the remaining jobs start."""

from __future__ import annotations

import logging

from ..transport.base import Transport
from . import boardside
from .remote import board_call_script

log = logging.getLogger(__name__)


def stop_leftover_agent(transport: Transport, python: str, run_dir: str) -> bool:
    """True when an agent of this run was still running on the board (and is now stopped)."""
    res = board_call_script(transport, python, boardside.source("stop_agent"), [run_dir], timeout_s=60)
    if res.get("found"):
        log.warning("%s: stopped a leftover agent of this run (controller was lost)", transport.name)
    return bool(res.get("found"))
