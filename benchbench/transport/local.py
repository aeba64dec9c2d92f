"""LocalTransport: the controller is itself a board. The agent still runs as a separate process through
the same protocol an SSH board uses; only the pipe differs."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from ..errors import CommandTimeout, TransferError, TransportError
from .base import CommandResult, LineCallback

log = logging.getLogger(__name__)
_TAIL = 64 * 1024


def _expand(path: str) -> Path:
    return Path(os.path.expanduser(path))


class LocalTransport:
    def __init__(self, name: str = "local") -> None:
        self.name = name
        self._active: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def run(self, argv: Sequence[str], *, timeout_s: float | None = None,
            on_stdout_line: LineCallback | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None) -> CommandResult:
        argv = [os.path.expanduser(a) if a.startswith("~/") else a for a in argv]
        full_env = dict(os.environ)
        full_env.update(env or {})
        t0 = time.monotonic()
        try:
            # own session: Ctrl-C in the terminal reaches us, and we decide how the agent stops
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
                                    start_new_session=True)
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot start {argv[0]}: {exc}") from exc
        out_tail: deque[str] = deque()
        out_size = [0]
        err_tail: deque[bytes] = deque(maxlen=64)

        def pump_out(stream: IO[bytes]) -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace")
                out_tail.append(line)
                out_size[0] += len(line)
                while on_stdout_line is not None and out_size[0] > _TAIL and len(out_tail) > 1:
                    out_size[0] -= len(out_tail.popleft())
                if on_stdout_line is not None:
                    on_stdout_line(line.rstrip("\n"))

        def pump_err(stream: IO[bytes]) -> None:
            for raw in iter(stream.readline, b""):
                err_tail.append(raw)

        with self._lock:
            self._active.add(proc)
        threads = [threading.Thread(target=pump_out, args=(proc.stdout,), daemon=True),
                   threading.Thread(target=pump_err, args=(proc.stderr,), daemon=True)]
        for t in threads:
            t.start()
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._stop(proc)
            raise CommandTimeout(f"{self.name}: {argv[0]} did not finish within {timeout_s:.0f} s; "
                                 "process group killed") from None
        except BaseException:
            self._stop(proc)  # abandoned (Ctrl-C): never leave the agent running
            raise
        finally:
            with self._lock:
                self._active.discard(proc)
        for t in threads:
            t.join()
        return CommandResult(argv=tuple(argv), exit_code=code, stdout="".join(out_tail),
                             stderr_tail=b"".join(err_tail).decode(errors="replace")[-4000:],
                             duration_s=time.monotonic() - t0)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
        """SIGTERM the group (the agent writes its end line), then SIGKILL what is left."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def put(self, local: Path, remote: str, *, mode: int = 0o644) -> None:
        dest = _expand(remote)
        tmp = dest.with_name(dest.name + ".part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, tmp)
            os.chmod(tmp, mode)
            if tmp.stat().st_size != local.stat().st_size:
                raise TransferError(f"{self.name}: short copy of {local} to {dest}")
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TransferError(f"{self.name}: cannot copy {local} to {dest}: {exc}") from exc

    def get(self, remote: str, local: Path) -> None:
        try:
            shutil.copyfile(_expand(remote), local)
        except OSError as exc:
            raise TransferError(f"{self.name}: cannot fetch {remote}: {exc}") from exc

    def close(self) -> None:
        """Abandon every command still running (another thread's run() then returns)."""
        with self._lock:
            procs = list(self._active)
        for proc in procs:
            self._stop(proc)
