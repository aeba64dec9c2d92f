"""System memory from /proc/meminfo (kB → bytes)."""

from __future__ import annotations

import re
from typing import List, Optional, Union

from .base import Channel, OpenFiles, Plan, Unavailable, read_text, under

FAMILY = "memory"
_AVAIL = re.compile(r"^MemAvailable:\s+(\d+)\s*kB", re.MULTILINE)
_TOTAL = re.compile(r"^MemTotal:\s+(\d+)\s*kB", re.MULTILINE)


class MeminfoPlan(Plan):
    family = FAMILY

    def __init__(self, path: str) -> None:
        super().__init__([Channel("mem_available", "memory", "bytes", path + " MemAvailable")])
        self._path = path
        self._files = OpenFiles()

    def read(self) -> List[Optional[float]]:
        raw = self._files.raw(self._path, 16384)
        m = _AVAIL.search(raw.decode(errors="replace") if raw else "")
        return [float(m.group(1)) * 1024 if m else None]

    def close(self) -> None:
        self._files.close()


def probe(root: str = "/") -> Union[Plan, Unavailable]:
    path = under(root, "/proc/meminfo")
    if _AVAIL.search(read_text(path) or ""):
        return MeminfoPlan(path)
    return Unavailable(FAMILY, "memory", f"{path} has no MemAvailable line")


def meminfo_bytes(root: str = "/") -> dict[str, Optional[int]]:
    text = read_text(under(root, "/proc/meminfo")) or ""
    out: dict[str, Optional[int]] = {}
    for key, rx in (("total", _TOTAL), ("available", _AVAIL)):
        m = rx.search(text)
        out[key] = int(m.group(1)) * 1024 if m else None
    return out
