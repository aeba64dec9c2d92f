"""SIGINT, SIGTERM and SIGHUP all stop a run the same way (Ctrl-C, CI cancellation / ``timeout`` /
systemd stop, a closed terminal or SSH session): the signal becomes :class:`Interrupted` in the main
thread, which the pipeline treats like Ctrl-C (stop the agents' process groups, store what finished,
mark the run ``interrupted``); the CLI then exits 128 + the signal number."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal, as an exception (a KeyboardInterrupt, so every Ctrl-C path also handles it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Within the block, the first of SIGINT/SIGTERM/SIGHUP raises Interrupted; later ones are ignored so
    the cleanup they started (killing agents, storing finished jobs) is not itself interrupted. Yields the
    list of signals received."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
