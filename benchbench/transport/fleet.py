"""Fan a per-board task out over a fleet: one thread and one connection per board, partial results.

Like Fabric's GroupResult: a board that is offline, refuses our key or fails mid-task becomes a failed
entry with its error; every other board still finishes. Ctrl-C closes every open transport (which kills
the remote process groups) before it propagates; with a ``stop`` event the tasks are told first and then
waited for, so what they finished is kept (``benchbench run`` stores every job a board reported).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ..errors import BenchbenchError
from .base import Transport
from .hostkeys import check_known_hosts
from .ssh import DEFAULT_TIMEOUTS, SSHTimeouts, SSHTransport
from .sshconfig import DEFAULT_SSH_CONFIG, resolve

log = logging.getLogger(__name__)
T = TypeVar("T")
#: how soon fan_out notices a ``stop`` set from another thread
_STOP_POLL_S = 0.1


class _Named(Protocol):
    @property
    def name(self) -> str: ...


B = TypeVar("B", bound=_Named)


class SSHBoard(Protocol):
    """What reaching a board over SSH reads of it (the fleet file's ``config.fleet.BoardSpec`` is one):
    transport knows boards by these fields alone, never by the inventory format."""

    @property
    def name(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def identity_file(self) -> str | None: ...


S = TypeVar("S", bound=SSHBoard)
S_co = TypeVar("S_co", bound=SSHBoard, covariant=True)


class SSHFleet(Protocol[S_co]):
    """The boards and the known_hosts file they share (``config.fleet.Fleet`` is one)."""

    @property
    def known_hosts(self) -> Path: ...
    @property
    def boards(self) -> Sequence[S_co]: ...


@dataclass(frozen=True)
class BoardResult(Generic[T]):
    board: str
    value: T | None
    error: BaseException | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class FleetResult(Generic[T]):
    results: tuple[BoardResult[T], ...]  # in the order the boards were given

    @property
    def succeeded(self) -> dict[str, T]:
        return {r.board: r.value for r in self.results if r.error is None}  # type: ignore[misc]

    @property
    def failed(self) -> dict[str, BaseException]:
        return {r.board: r.error for r in self.results if r.error is not None}

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def ssh_opener(fleet: SSHFleet[S], *, ssh_config: Path | None = DEFAULT_SSH_CONFIG,
               accept_new_host_keys: bool = False, allow_agent: bool = True,
               timeouts: SSHTimeouts = DEFAULT_TIMEOUTS) -> Callable[[S], SSHTransport]:
    """A connect function for fan_out: the board's inventory entry, the fleet's known_hosts. Both files are
    checked here, once, so a broken one is a single clear error before any board is contacted."""
    check_known_hosts(fleet.known_hosts)
    for b in fleet.boards:  # a bad Port/ProxyJump for an alias fails here, not in a board thread mid-run
        resolve(b.host, port=b.port, user=b.user, identity_file=b.identity_file, ssh_config=ssh_config)

    def open_board(board: S) -> SSHTransport:
        return SSHTransport(board.host, name=board.name, port=board.port, user=board.user,
                            identity_file=board.identity_file, known_hosts=fleet.known_hosts,
                            ssh_config=ssh_config, accept_new_host_keys=accept_new_host_keys,
                            allow_agent=allow_agent, timeouts=timeouts)
    return open_board


def fan_out(boards: Sequence[B], task: Callable[[B, Transport], T], *,
            connect: Callable[[B], Transport], max_workers: int | None = None,
            on_done: Callable[[BoardResult[T]], None] | None = None,
            stop: threading.Event | None = None) -> FleetResult[T]:
    """Run ``task(board, transport)`` on every board concurrently; the transport is closed afterwards and
    ``on_done`` called (in the board's thread). On an interrupt ``stop`` (when given) is set before the open
    transports are closed, and the tasks are waited for before the interrupt propagates. ``stop`` set from
    another thread closes the open transports too (within ``_STOP_POLL_S``); the tasks then finish."""
    open_now: dict[str, Transport] = {}
    lock = threading.Lock()

    def close_open() -> None:
        with lock:
            pending = list(open_now.values())
            open_now.clear()  # closed once here; the board's thread closes it again, which is harmless
        for transport in pending:
            try:
                transport.close()
            except BenchbenchError:
                pass

    def one(board: B) -> BoardResult[T]:
        t0 = time.monotonic()
        transport: Transport | None = None
        try:
            transport = connect(board)
            with lock:
                open_now[board.name] = transport
            result: BoardResult[T] = BoardResult(board.name, task(board, transport), None,
                                                 time.monotonic() - t0)
        except Exception as exc:  # job boundary: one board's failure is its own result, never the fleet's
            if not isinstance(exc, BenchbenchError):
                log.exception("%s: unexpected error", board.name)
            result = BoardResult(board.name, None, exc, time.monotonic() - t0)
        finally:
            with lock:
                open_now.pop(board.name, None)
            if transport is not None:
                try:
                    transport.close()
                except BenchbenchError as exc:
                    log.warning("%s: close failed: %s", board.name, exc)
        if on_done is not None:
            on_done(result)
        return result

    if not boards:
        return FleetResult(())
    pool = ThreadPoolExecutor(max_workers=max_workers or len(boards), thread_name_prefix="board")
    futures = [pool.submit(one, b) for b in boards]
    try:
        # with a stop event, wait in slices: a stop from another thread (a lab worker's) closes what is open
        while wait(futures, timeout=_STOP_POLL_S if stop is not None else None).not_done:
            if stop is not None and stop.is_set():
                close_open()
    except BaseException:
        # Ctrl-C: stop every board's remote work, then let the interrupt through
        if stop is not None:
            stop.set()  # before the transports go: a task then knows its board failed because of the stop
        close_open()
        pool.shutdown(wait=stop is not None, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return FleetResult(tuple(f.result() for f in futures))
