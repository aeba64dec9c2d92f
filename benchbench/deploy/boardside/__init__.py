"""Programs that run on a board before (or without) the agent, with the board's own Python (3.8+, stdlib).

Each is a real module here — linted and type-checked like the rest — and is sent to the board as its source
text through ``python -c`` with JSON/argv arguments only (never a shell string holding values).
``source(name)`` returns that text. The controller imports one thing from here, ``deploy_ops.sha256_file``,
so both sides hash files with the same (stdlib) code.

``basics`` is the exception to "3.8+": it runs first and is what reports a board's Python as too old, so it
is written to parse on any Python (2.7 included; type comments, no f-strings) instead of failing with a
SyntaxError that would hide the reason.
"""

from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The source of the board-side program ``name`` (``deploy_ops``, ``stop_agent`` or ``basics``)."""
    return resources.files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")
