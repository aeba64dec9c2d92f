"""Sampler building blocks: channels with unit and scope, plans, and the 'unavailable' verdict.

A sensor family is one module with ``probe(root) -> Plan | Unavailable`` (discover once; the filesystem
root is a parameter, ``/`` on a real board) and a cheap ``Plan.read()`` that returns one value per
channel (``None`` for a failed read, never a made-up 0).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

#: what a channel measures
QUANTITIES = ("power", "energy", "temperature", "clock", "load", "memory", "voltage", "current")
from ..protocol import POWER_SCOPES  # noqa: F401  (re-exported: the scope vocabulary is part of the protocol)


@dataclass(frozen=True)
class Channel:
    name: str
    quantity: str
    unit: str
    source: str  # sysfs path or command that produced it
    scope: Optional[str] = None  # required for power/energy
    #: energy counters that wrap: the value at which they roll over (in ``unit``)
    wrap_at: Optional[float] = None
    label: Optional[str] = None  # human wording, e.g. "PMIC rails, excludes 5 V loads"
    #: measured at probe time (see ``cadence``): median interval between value changes, and the cost of
    #: one read (this channel's share of its plan's read)
    update_period_s: Optional[float] = None
    read_cost_s: Optional[float] = None
    #: a power limit the hardware itself reports (NVML's enforced limit), in W
    limit_w: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Unavailable:
    family: str
    quantity: str
    reason: str
    scope: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Plan:
    """What a probe found: the channels and how to read them."""

    family = "base"

    def __init__(self, channels: Sequence[Channel], unavailable: Sequence[Unavailable] = ()) -> None:
        self.channels: List[Channel] = list(channels)
        self.unavailable: List[Unavailable] = list(unavailable)

    def read(self) -> List[Optional[float]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles or subprocesses."""


class OpenFiles:
    """Sensor files kept open and re-read with ``pread(fd, n, 0)``: sysfs/procfs regenerate an attribute
    when it is read again from offset 0, and one pread is ~4x cheaper than open/read/close (the
    sampling hot path at 100 Hz). A file that cannot be opened or read yields None for that read only."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def raw(self, path: str, size: int = 64) -> Optional[bytes]:
        fd = self._fds.get(path)
        try:
            if fd is None:
                fd = os.open(path, os.O_RDONLY)
                self._fds[path] = fd
            return os.pread(fd, size, 0)
        except OSError:
            if fd is not None:  # e.g. the device went away: reopen on the next read
                self._fds.pop(path, None)
                _close_quietly(fd)
            return None

    def number(self, path: str, scale: float = 1.0) -> Optional[float]:
        raw = self.raw(path)
        try:
            return float(raw.split()[0]) * scale if raw is not None else None
        except (ValueError, IndexError):
            return None

    def close(self) -> None:
        for fd in self._fds.values():
            _close_quietly(fd)
        self._fds.clear()


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class SysfsValuePlan(Plan):
    """Reads one number per file, scaled: the common case for sysfs/procfs sensors."""

    def __init__(self, family: str, entries: Sequence[tuple[Channel, str, float]],
                 unavailable: Sequence[Unavailable] = ()) -> None:
        super().__init__([e[0] for e in entries], unavailable)
        self.family = family
        self._paths = [e[1] for e in entries]
        self._scales = [e[2] for e in entries]
        self._files = OpenFiles()

    def read(self) -> List[Optional[float]]:
        number = self._files.number
        return [number(p, s) for p, s in zip(self._paths, self._scales)]

    def close(self) -> None:
        self._files.close()


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, "r") as fh:
            return fh.read()
    except OSError:
        return None


def read_number(path: str, scale: float = 1.0) -> Optional[float]:
    # os.open/os.read avoid the buffered-IO object per read: this is the sampling hot path
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            raw = os.read(fd, 64)
        finally:
            os.close(fd)
        return float(raw.split()[0]) * scale
    except (OSError, ValueError, IndexError):
        return None


def under(root: str, path: str) -> str:
    """``path`` (absolute, as on a real board) resolved under the probe root."""
    return os.path.join(root, path.lstrip("/"))


def thermal_zones(root: str) -> List[tuple[str, str]]:
    """(zone type, temp file) of every thermal zone under ``root`` that has both, sorted by path."""
    out = []
    for zone in sorted(glob.glob(under(root, "/sys/class/thermal/thermal_zone*"))):
        ztype = (read_text(os.path.join(zone, "type")) or "").strip()
        temp = os.path.join(zone, "temp")
        if ztype and os.path.exists(temp):
            out.append((ztype, temp))
    return out
