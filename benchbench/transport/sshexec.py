"""How a command runs on a board: the quoted ``setsid`` wrapper and the pumps of one running command.

Inner sh (in its own session) reports ``$$`` — its process group id — on stderr, then execs the command.
The outer sh passes our stdin through fd 3 (a background job of a non-interactive shell gets /dev/null)
and waits, so the real exit status comes back. setsid runs in the background so it is never a process
group leader and never forks (a forking setsid returns 0 at once and the real status is lost).
"""

from __future__ import annotations

import re
import shlex
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import paramiko

from ..errors import ConnectError
from .base import LineCallback

NET_ERRORS = (paramiko.SSHException, EOFError, OSError)
_TAIL = 64 * 1024
_MARK = "@@benchbench-pgid "
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INNER = 'printf "%s%s\\n" "$BB_MARK" "$$" >&2; unset BB_MARK; {exports}exec "$@"'
_OUTER = 'exec 3<&0; BB_MARK={mark} setsid sh -c {inner} sh "$@" <&3 3<&- & wait "$!"'


def remote_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The one shell line sent to sshd. Values only ever appear as single-quoted words."""
    if not argv:
        raise ValueError("empty argv")
    exports = ""
    for key, value in (env or {}).items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name {key!r}")
        exports += f"export {key}={shlex.quote(value)}; "
    inner = _INNER.format(exports=exports)
    outer = _OUTER.format(mark=shlex.quote(_MARK), inner=shlex.quote(inner))
    return " ".join(["sh", "-c", shlex.quote(outer), "sh", *map(shlex.quote, argv)])


class Job:
    """One running command: stdout pumped by the caller's thread, stderr (and stdin) by helpers."""

    def __init__(self, chan: paramiko.Channel, on_line: LineCallback | None) -> None:
        self.chan = chan
        self.on_line = on_line
        self.pgid = -1
        self.pgid_seen = threading.Event()
        self._out: deque[str] = deque()
        self._out_size = 0
        self._err: deque[bytes] = deque(maxlen=64)
        self._threads: list[threading.Thread] = []

    def start_stderr(self) -> None:
        def pump() -> None:
            head = b""
            while True:
                try:
                    data = self.chan.recv_stderr(32768)
                except TimeoutError:
                    continue
                except NET_ERRORS:
                    break
                if not data:
                    break
                if not self.pgid_seen.is_set():
                    head += data
                    if b"\n" not in head:
                        continue
                    first, _, data = head.partition(b"\n")
                    text = first.decode(errors="replace")
                    if text.startswith(_MARK) and text[len(_MARK):].isdigit():
                        self.pgid = int(text[len(_MARK):])
                    else:
                        data = head
                    self.pgid_seen.set()
                self._err.append(data)
            self.pgid_seen.set()
        self._spawn(pump)

    def start_stdin(self, payload: bytes) -> None:
        def feed() -> None:
            view = memoryview(payload)
            while view:
                try:
                    sent = self.chan.send(bytes(view[:32768]))
                except TimeoutError:
                    continue
                except NET_ERRORS:
                    return
                if sent == 0:
                    return
                view = view[sent:]
            self.chan.shutdown_write()
        self._spawn(feed)

    def _spawn(self, fn: Callable[[], None]) -> None:
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self._threads.append(t)

    def pump_stdout(self, deadline: float | None) -> None:
        pending = b""
        while True:
            try:
                data = self.chan.recv(65536)
            except TimeoutError:
                if deadline is not None and time.monotonic() > deadline:
                    raise
                continue
            if not data:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError()
            pending += data
            if b"\n" in pending:
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._line(raw.decode(errors="replace") + "\n")
        if pending:
            self._line(pending.decode(errors="replace"))

    def _line(self, line: str) -> None:
        self._out.append(line)
        self._out_size += len(line)
        if self.on_line is not None:
            while self._out_size > _TAIL and len(self._out) > 1:
                self._out_size -= len(self._out.popleft())
            self.on_line(line.rstrip("\n"))

    def join(self) -> None:
        for t in self._threads:
            t.join(timeout=5.0)

    def stdout(self) -> str:
        return "".join(self._out)

    def stderr_tail(self) -> str:
        return b"".join(self._err).decode(errors="replace")[-4000:]


def tcp_socket(host: str, port: int, connect_s: float, user_timeout_s: float) -> socket.socket:
    """A connected TCP socket tuned for SSH: TCP_NODELAY (paramiko leaves Nagle on: +45 ms per exec),
    keepalive, and TCP_USER_TIMEOUT so a cut link fails in seconds instead of minutes."""
    try:
        sock = socket.create_connection((host, port), timeout=connect_s)
    except ConnectionRefusedError as exc:
        raise ConnectError(f"{host}:{port}: connection refused (is sshd running?)") from exc
    except TimeoutError as exc:
        raise ConnectError(f"{host}:{port}: connect timed out after {connect_s:.0f} s",
                           hint="is the board powered and on this network?") from exc
    except socket.gaierror as exc:
        raise ConnectError(f"{host}: cannot resolve host name ({exc.strerror})") from exc
    except OSError as exc:
        raise ConnectError(f"{host}:{port}: cannot connect: {exc.strerror or exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout_s * 1000))
    return sock
