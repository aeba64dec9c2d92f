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
from typing import Callable, List, Optional, Tuple

IDENTITY = "YOKOGAWA,WT310,C2PH13047V,F1.03"


class FakePtd:
    def __init__(self, watts: Callable[[float], float] = lambda t: 22.95, channels: int = 1) -> None:
        self.watts = watts
        self.channels = channels
        self.log: List[str] = []  # every line the daemon would write to its log, NOTICEs included
        self.commands: List[str] = []
        self._pending: List[str] = []
        self._lock = threading.Lock()
        self._running: Optional[threading.Event] = None
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
        return time.strftime("%d-%m-%Y %H:%M:%S", lt) + ".%03d" % int((t % 1) * 1000)

    def sample_line(self, t: float, mark: str) -> str:
        w = self.watts(t)
        if self.channels == 1:
            return "Time,%s,Watts,%.6f,Volts,228.570000,Amps,%.6f,PF,0.486400,Mark,%s" % (
                self._stamp(t), w, w / 228.57 / 0.4864, mark)
        per = w / self.channels
        groups = ",".join("Ch%d,Watts,%.6f,Volts,120.950000,Amps,%.6f,PF,0.938900" % (i + 1, per, per / 120.95)
                          for i in range(self.channels))
        return "Time,%s,Watts,%.6f,Volts,-1.000000,Amps,-1.000000,PF,-1.000000,Mark,%s,%s" % (
            self._stamp(t), w, mark, groups)

    def _sampler(self, period_s: float, mark: str, running: threading.Event) -> None:
        while not running.wait(period_s):
            line = self.sample_line(time.time(), mark)
            with self._lock:
                self.log.append(line)
                self._pending.append(line)

    def reply(self, cmd: str) -> List[str]:
        self.commands.append(cmd)
        parts = cmd.split(",")
        if cmd == "Hello":
            return ["Hello, PTDaemon here!"]
        if cmd == "Identify":
            return [IDENTITY]
        if parts[0] == "SR" and len(parts) >= 3:
            return ["Range %s changed" % parts[1]]
        if parts[0] == "Go" and len(parts) >= 2:
            period_ms = int(parts[1]) or 1000
            mark = parts[3] if len(parts) > 3 else "notset"
            self._stop_sampling()
            self._running = threading.Event()
            with self._lock:
                self.log.append("Time,%s,NOTICE,Analyzer identity response of 32 bytes: %s"
                                % (self._stamp(time.time()), IDENTITY))
            threading.Thread(target=self._sampler, args=(period_ms / 1000.0, mark, self._running),
                             daemon=True).start()
            return ["Starting untimed measurement, maximum 500000 samples at %dms with 0 rampup samples"
                    % period_ms]
        if cmd == "Stop":
            self._stop_sampling()
            return ["Stopping untimed measurement"]
        if parts[0] in ("RL", "DC-RL"):
            with self._lock:
                lines, self._pending = self._pending, []
            return ["Last %d samples" % len(lines)] + lines if lines else ["No data"]
        return ["Error: unknown command %s" % cmd]

    def _stop_sampling(self) -> None:
        if self._running is not None:
            self._running.set()
            self._running = None

    @property
    def address(self) -> Tuple[str, int]:
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
