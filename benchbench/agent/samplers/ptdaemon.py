"""External power analyzer through SPEC PTDaemon (the MLPerf power setup). Scope ``wall``.

Protocol (TCP text, default port 8888): the client sends ``cmd\\r\\n`` and reads ``\\n``-terminated replies
(``\\r`` stripped). Used here: ``Hello`` (reply must be ``Hello, PTDaemon here!``), ``Identify``,
``SR,V,Auto`` / ``SR,A,Auto``, ``Go,<period ms>,0,<mark>``, ``Stop`` and ``RL`` (``Last <N> samples``
followed by N lines). Sample lines look like
``Time,28-12-2020 15:21:14.682,Watts,22.95,Volts,228.57,Amps,0.2064,PF,0.4864,Mark,<mark>`` with
optional ``Ch<n>,Watts,…`` groups (the multichannel sum record reports -1 for Volts/Amps/PF);
``NOTICE``/``ERROR`` lines are interleaved and skipped.

The family option binds the meter: ``ptdaemon@<host>:<port>[/ch<n>]``. The plan opens the connection,
starts a measurement on the first read and stops it on close; a thread polls ``RL`` once per meter
period and ``read()`` hands over the newest unseen sample (so each meter sample counts once; a 1 Hz meter
contributes 1 sample per second and the energy summary warns when a window holds too few).
"""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from .base import Channel, Plan, Unavailable

FAMILY = "ptdaemon"
DEFAULT_PORT = 8888
HELLO_REPLY = "Hello, PTDaemon here!"
log = logging.getLogger(__name__)


class PtdError(Exception):
    """The PTDaemon connection failed or answered outside the protocol."""


def _epoch(stamp: str, mark: Optional[str], order: Optional[str]) -> Optional[float]:
    """Seconds since the epoch (local time) for ``DD-MM-YYYY`` or ``MM-DD-YYYY`` stamps: the order is
    inconsistent between PTDaemon builds, so it is decided by a field > 12, else by the date in the
    mark (``YYYY-MM-DD_…``), else by ``order`` ("DMY"/"MDY"); ambiguous → None."""
    try:
        date, clock = stamp.split(" ", 1)
        a, b, year = (int(x) for x in date.split("-"))
    except ValueError:
        return None
    if a > 12:
        dmy = True
    elif b > 12:
        dmy = False
    elif mark and len(mark) >= 10 and mark[4] == "-" and mark[7] == "-":
        mm, dd = int(mark[5:7]), int(mark[8:10])
        dmy = (a, b) == (dd, mm)
        if not dmy and (a, b) != (mm, dd):
            return None
    elif order in ("DMY", "MDY"):
        dmy = order == "DMY"
    else:
        return None
    day, month = (a, b) if dmy else (b, a)
    try:
        t = datetime.datetime.strptime(clock, "%H:%M:%S.%f")
        dt = datetime.datetime(year, month, day, t.hour, t.minute, t.second, t.microsecond)
    except ValueError:
        return None
    return time.mktime(dt.timetuple()) + dt.microsecond / 1e6


def parse_sample_line(line: str, order: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """One ``Time,…`` line → ``{time, epoch_s, watts, volts, amps, pf, mark, channels: {n: {...}}}``;
    None for NOTICE/ERROR/other lines. Values of -1 (multichannel sum record) are None."""
    parts = [p.strip() for p in line.strip().split(",")]
    if len(parts) < 4 or parts[0] != "Time" or parts[2] != "Watts":
        return None
    rec: Dict[str, Any] = {"time": parts[1], "mark": None, "channels": {}}
    target: Dict[str, Any] = rec
    i = 2
    while i < len(parts):
        key = parts[i]
        if key.startswith("Ch") and key[2:].isdigit():
            target = {}
            rec["channels"][int(key[2:])] = target
            i += 1
            continue
        val = parts[i + 1] if i + 1 < len(parts) else ""
        if key == "Mark":
            rec["mark"] = val
        elif key in ("Watts", "Volts", "Amps", "PF"):
            try:
                num: Optional[float] = float(val)
            except ValueError:
                num = None
            target[key.lower()] = None if num == -1.0 else num
        i += 2
    rec["epoch_s"] = _epoch(parts[1], rec["mark"], order)
    return rec


def parse_log(text: str, order: Optional[str] = None) -> List[Dict[str, Any]]:
    return [r for r in (parse_sample_line(ln, order) for ln in text.splitlines()) if r is not None]


class PtdClient:
    """Blocking client for one PTDaemon connection."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout_s: float = 5.0) -> None:
        self.host, self.port = host, port
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise PtdError(f"cannot reach PTDaemon at {host}:{port}: {exc}") from None
        self._buf = b""

    def _line(self) -> str:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(4096)
            except OSError as exc:
                raise PtdError(f"PTDaemon read failed: {exc}") from None
            if not chunk:
                raise PtdError("PTDaemon closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def command(self, cmd: str) -> str:
        try:
            self._sock.sendall((cmd + "\r\n").encode())
        except OSError as exc:
            raise PtdError(f"PTDaemon write failed: {exc}") from None
        return self._line()

    def hello(self) -> None:
        reply = self.command("Hello")
        if reply != HELLO_REPLY:
            raise PtdError(f"not a PTDaemon: Hello answered {reply!r}")

    def identify(self) -> str:
        return self.command("Identify")

    def go(self, period_ms: int, mark: str) -> str:
        return self.command(f"Go,{period_ms},0,{mark}")

    def stop(self) -> str:
        return self.command("Stop")

    def last_samples(self, cmd: str = "RL") -> List[str]:
        head = self.command(cmd)
        if not head.startswith("Last "):
            return []  # "No data" before the first sample
        try:
            n = int(head.split()[1])
        except (IndexError, ValueError):
            raise PtdError(f"bad RL header {head!r}") from None
        return [self._line() for _ in range(n)]

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def parse_binding(option: str) -> Tuple[str, int, Optional[int]]:
    """``host:port[/ch<n>]`` → (host, port, channel or None)."""
    addr, _, ch = option.partition("/")
    host, _, port = addr.rpartition(":")
    if not host:
        host, port = addr, str(DEFAULT_PORT)
    channel = int(ch[2:]) if ch.lower().startswith("ch") and ch[2:].isdigit() else None
    return host, int(port), channel


class PtdPlan(Plan):
    family = FAMILY

    def __init__(self, host: str, port: int, channel: Optional[int], identity: str,
                 period_ms: int = 1000, mark: str = "benchbench") -> None:
        name = "wall_power" if channel is None else f"wall_ch{channel}_power"
        super().__init__([Channel(name, "power", "W", "ptdaemon {}:{}{}"
                                                      .format(host, port, "" if channel is None
                                                                           else f" Ch{channel}"),
                                  scope="wall", label=f"external analyzer ({identity}) via PTDaemon")])
        self.host, self.port, self.channel = host, port, channel
        self.period_ms, self.mark = period_ms, mark
        self._lock = threading.Lock()
        self._fresh: Optional[float] = None
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: every sample received this session: (PTD timestamp, epoch_s or None, watts)
        self.samples: List[Tuple[str, Optional[float], Optional[float]]] = []

    def _watts(self, rec: Dict[str, Any]) -> Optional[float]:
        if self.channel is None:
            w: Optional[float] = rec.get("watts")
            return w
        return rec["channels"].get(self.channel, {}).get("watts")  # type: ignore[no-any-return]

    def _loop(self, stop: threading.Event) -> None:
        try:
            client = PtdClient(self.host, self.port)
            client.hello()
            client.go(self.period_ms, self.mark)
        except PtdError as exc:
            log.warning("%s", exc)
            return
        try:
            while not stop.wait(self.period_ms / 1000.0):
                for rec in parse_log("\n".join(client.last_samples())):
                    if rec["time"] in self._seen:  # RL repeats samples already handed over
                        continue
                    self._seen.add(rec["time"])
                    w = self._watts(rec)
                    self.samples.append((rec["time"], rec["epoch_s"], w))
                    with self._lock:
                        self._fresh = w
            client.stop()
        except PtdError as exc:
            log.warning("%s", exc)
        finally:
            client.close()

    def read(self) -> List[Optional[float]]:
        if self._thread is None:
            self._stop = threading.Event()
            self._seen = set()
            self.samples = []
            self._thread = threading.Thread(target=self._loop, args=(self._stop,), name="bb-ptd", daemon=True)
            self._thread.start()
        with self._lock:
            val, self._fresh = self._fresh, None
        return [val]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None


def probe(root: str = "/", option: Optional[str] = None) -> Union[Plan, Unavailable]:
    if not option:
        return Unavailable(FAMILY, "power", "no external meter bound (device profile: meter.ptdaemon)",
                           scope="wall")
    try:
        host, port, channel = parse_binding(option)
    except ValueError:
        return Unavailable(FAMILY, "power", f"bad meter binding {option!r} (want host:port[/ch<n>])",
                           scope="wall")
    try:
        client = PtdClient(host, port)
        try:
            client.hello()
            identity = client.identify()
        finally:
            client.close()
    except PtdError as exc:
        return Unavailable(FAMILY, "power", str(exc), scope="wall")
    return PtdPlan(host, port, channel, identity)
