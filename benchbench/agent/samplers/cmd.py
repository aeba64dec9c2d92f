"""Sensors behind vendor commands (vcgencmd, npu-smi, tegrastats, nvidia-smi).

A command costs a process spawn (and often a firmware round trip): 5–100 ms, far more than the sampling
interval. So a command never runs inside ``Plan.read()``. Instead a background thread owned by the plan
runs it at the command's own pace (``PolledCommandPlan``) or reads a long-running streaming command line
by line (``StreamCommandPlan``), and ``read()`` only hands over the newest result.

``read()`` returns a result once, when it is fresh, and ``None`` for every channel otherwise: the session
drops ``None`` before integrating, so a 2 Hz command contributes 2 samples per second (not 50 repeated
ones) and the per-window sample counts stay honest. The timestamp error is at most one session interval.

Commands are run from an argv list (never a shell string); the PATH decides which binary runs.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from typing import Callable, List, Optional, Sequence

from .base import Channel, Plan, Unavailable

log = logging.getLogger(__name__)

Values = List[Optional[float]]


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def run_argv(argv: Sequence[str], timeout_s: float = 5.0) -> Optional[str]:
    """stdout of ``argv``, or None (logged) when it cannot be run, fails or times out."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("%s: %s", argv[0], exc)
        return None
    if proc.returncode != 0:
        log.debug("%s exited %s: %s", " ".join(argv), proc.returncode,
                  proc.stderr.decode(errors="replace")[-200:])
        return None
    return proc.stdout.decode(errors="replace")


class _Latest:
    """The newest values from a background producer, handed out once."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._lock = threading.Lock()
        self._vals: Optional[Values] = None

    def put(self, vals: Values) -> None:
        with self._lock:
            self._vals = list(vals)

    def take(self) -> Values:
        with self._lock:
            vals, self._vals = self._vals, None
        return vals if vals is not None else [None] * self._n


class PolledCommandPlan(Plan):
    """Runs ``fetch()`` (which runs one or more commands) every ``period_s`` in its own thread.

    The thread starts on the first ``read()`` and stops on ``close()``; a later ``read()`` restarts it,
    so one plan serves several sampling sessions.
    """

    def __init__(self, family: str, channels: Sequence[Channel], fetch: Callable[[], Values],
                 period_s: float, unavailable: Sequence[Unavailable] = ()) -> None:
        super().__init__(channels, unavailable)
        self.family = family
        self.period_s = period_s
        self._fetch = fetch
        self._latest = _Latest(len(self.channels))
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._latest.put(self._fetch())
            stop.wait(self.period_s)

    def read(self) -> Values:
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, args=(self._stop,),
                                            name="bb-poll-" + self.family, daemon=True)
            self._thread.start()
        return self._latest.take()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        self._latest.take()  # a result from the previous session is stale for the next


class StreamCommandPlan(Plan):
    """Reads a long-running command (``tegrastats --interval``, ``nvidia-smi -lms``) line by line;
    ``parse(line)`` returns one value per channel or None for lines that carry no sample (headers)."""

    def __init__(self, family: str, channels: Sequence[Channel], argv: Sequence[str],
                 parse: Callable[[str], Optional[Values]], unavailable: Sequence[Unavailable] = ()) -> None:
        super().__init__(channels, unavailable)
        self.family = family
        self.argv = list(argv)
        self._parse = parse
        self._latest = _Latest(len(self.channels))
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._thread: Optional[threading.Thread] = None

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            vals = self._parse(raw.decode(errors="replace"))
            if vals is not None:
                self._latest.put(vals)

    def read(self) -> Values:
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except OSError as exc:
                log.warning("cannot start %s: %s", self.argv[0], exc)
                return [None] * len(self.channels)
            self._thread = threading.Thread(target=self._pump, args=(self._proc,),
                                            name="bb-stream-" + self.family, daemon=True)
            self._thread.start()
        return self._latest.take()

    def close(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
            self._thread = None
        self._latest.take()


class CompositePlan(Plan):
    """Several plans of one family read as one (e.g. cheap sysfs files plus a polled command)."""

    def __init__(self, family: str, plans: Sequence[Plan], unavailable: Sequence[Unavailable] = ()) -> None:
        super().__init__([c for p in plans for c in p.channels], unavailable)
        self.family = family
        self.parts = list(plans)

    def read(self) -> Values:
        out: Values = []
        for p in self.parts:
            out.extend(p.read())
        return out

    def close(self) -> None:
        for p in self.parts:
            p.close()
