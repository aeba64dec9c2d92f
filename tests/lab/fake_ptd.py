"""A small fake SPEC PTDaemon for tests: TCP on 127.0.0.1, the command/reply formats MLPerf's power-dev
uses (boards.md §8): ``Hello`` → ``Hello, PTDaemon here!``, ``Identify``, ``SR,V|A,…`` → ``Range V|A
changed``, ``Go,<ms>,0,<mark>`` → ``Starting untimed measurement, maximum 500000 samples at <ms>ms with 0
rampup samples``, ``Stop`` → ``Stopping untimed measurement``, ``RL`` → ``Last <N> samples`` + N sample
lines (those since the previous RL) or ``No data``. Samples are ``Time,DD-MM-YYYY HH:MM:SS.fff,Watts,…``
lines, with ``Ch<n>`` groups and a -1 sum record when ``channels`` > 1; a NOTICE line is logged at start.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable

IDENTITY = "YOKOGAWA,WT310,C2PH13047V,F1.03"


class FakePtd:
    def __init__(self, watts: Callable[[float], float] = lambda t: 22.95, channels: int = 1) -> None:
        self.watts = watts
        self.channels = channels
        self.log: list[str] = []  # every line the daemon would write to its log, NOTICEs included
        self.commands: list[str] = []
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._running: threading.Event | None = None
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for raw in self.rfile:
                    cmd = raw.decode().strip()
                    if not cmd:
                        continue
                    for line in outer.reply(cmd):
                        self.wfile.write((line + "\r\n").encode())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _stamp(self, t: float) -> str:
        lt = time.localtime(t)
        return time.strftime("%d-%m-%Y %H:%M:%S", lt) + f".{int((t % 1) * 1000):03d}"

    def sample_line(self, t: float, mark: str) -> str:
        w = self.watts(t)
        if self.channels == 1:
            return (f"Time,{self._stamp(t)},Watts,{w:.6f},Volts,228.570000,Amps,{w / 228.57 / 0.4864:.6f},"
                    f"PF,0.486400,Mark,{mark}")
        per = w / self.channels
        groups = ",".join(f"Ch{i + 1},Watts,{per:.6f},Volts,120.950000,Amps,{per / 120.95:.6f},PF,0.938900"
                          for i in range(self.channels))
        return (f"Time,{self._stamp(t)},Watts,{w:.6f},Volts,-1.000000,Amps,-1.000000,PF,-1.000000,"
                f"Mark,{mark},{groups}")

    def _sampler(self, period_s: float, mark: str, running: threading.Event) -> None:
        while not running.wait(period_s):
            line = self.sample_line(time.time(), mark)
            with self._lock:
                self.log.append(line)
                self._pending.append(line)

    def reply(self, cmd: str) -> list[str]:
        self.commands.append(cmd)
        parts = cmd.split(",")
        if cmd == "Hello":
            return ["Hello, PTDaemon here!"]
        if cmd == "Identify":
            return [IDENTITY]
        if parts[0] == "SR" and len(parts) >= 3:
            return [f"Range {parts[1]} changed"]
        if parts[0] == "Go" and len(parts) >= 2:
            period_ms = int(parts[1]) or 1000
            mark = parts[3] if len(parts) > 3 else "notset"
            self._stop_sampling()
            self._running = threading.Event()
            with self._lock:
                self.log.append(f"Time,{self._stamp(time.time())},NOTICE,"
                                f"Analyzer identity response of 32 bytes: {IDENTITY}")
            threading.Thread(target=self._sampler, args=(period_ms / 1000.0, mark, self._running),
                             daemon=True).start()
            return [(f"Starting untimed measurement, maximum 500000 samples at {period_ms}ms "
                     "with 0 rampup samples")]
        if cmd == "Stop":
            self._stop_sampling()
            return ["Stopping untimed measurement"]
        if parts[0] in ("RL", "DC-RL"):
            with self._lock:
                lines, self._pending = self._pending, []
            return [f"Last {len(lines)} samples"] + lines if lines else ["No data"]
        return [f"Error: unknown command {cmd}"]

    def _stop_sampling(self) -> None:
        if self._running is not None:
            self._running.set()
            self._running = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        self._stop_sampling()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
