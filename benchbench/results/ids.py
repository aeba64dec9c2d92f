"""Run ids as they enter benchbench (``import --run``, ``run --resume``): short, printable, path-free.

Run ids name files (reports, site pages, the board's run directory); output paths are still built through
``report.paths.slug`` because a shared database may hold ids written by older or other tools.
"""

from __future__ import annotations

import re

from ..errors import ConfigError

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")


def check_run_id(run_id: str, key: str) -> str:
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        shown = run_id.encode("unicode_escape").decode()[:80]
        raise ConfigError(f"invalid run id {shown!r}: use 1-64 letters, digits and . _ : + - (no '/', "
                          "no '..', not starting with '.' or '-')", key=key)
    return run_id
