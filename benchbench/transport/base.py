"""The Transport interface every board connection implements.

``run`` executes an argv (never a shell string: implementations quote every argument), streams stdout
lines to a callback while draining stderr concurrently, enforces a timeout, and kills the remote process
group when the call times out or is abandoned (KeyboardInterrupt included). ``put``/``get`` copy files;
``put`` writes to a temporary name and renames, so a partial upload never looks complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

LineCallback = Callable[[str], None]


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str  # whole stdout when no callback was given; otherwise the last 64 KiB
    stderr_tail: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@runtime_checkable
class Transport(Protocol):
    #: board name, for messages
    name: str

    def run(self, argv: Sequence[str], *, timeout_s: float | None = None,
            on_stdout_line: LineCallback | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None) -> CommandResult:
        """Run argv on the board. Raises CommandTimeout (after killing the process group) on timeout."""
        ...

    def put(self, local: Path, remote: str, *, mode: int = 0o644) -> None:
        """Copy a local file to the board atomically (temp name, verify size, rename)."""
        ...

    def get(self, remote: str, local: Path) -> None:
        """Copy a board file to the controller."""
        ...

    def close(self) -> None:
        ...
