"""The one output-path sanitiser: every file name derived from a stored name (run, board, workload) is
built here, so a hostile or odd name in a shared database can never point a write outside its folder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DEFAULT_REPORT_DIR = Path("reports") / "out"  # relative to the working directory, like ./benchbench.db


def slug(name: str) -> str:
    """A file-name-safe, collision-free form of a run/board/workload name (no separators, no leading dot,
    no control characters; a hash suffix whenever anything was changed)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]
    if safe != name or safe.startswith(".") or not safe:
        safe = f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return safe


def report_path(run_id: str, directory: Path = DEFAULT_REPORT_DIR) -> Path:
    """Where a run's report goes when the user did not say: always a plain file inside ``directory``."""
    return directory / f"{slug(run_id)}.html"
