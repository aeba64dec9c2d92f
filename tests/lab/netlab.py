"""Boards in their own network namespaces (root only): link cut, packet loss, rate limit, delay.

Layout (names carry the pytest pid, so parallel sessions never collide):
bridge ``bbr<pid>`` 10.201.S.1/24 in the root namespace; per board a namespace ``bb<pid>-<i>`` whose
``eth0`` is 10.201.S.(10+i) and whose peer ``bv<pid>x<i>`` sits on the bridge; sshd listens on port 22
inside. A safety ``unreachable`` route keeps 10.201.0.0/16 traffic from ever leaving the machine.
netem is not in this kernel (reference §4): loss is nftables ``numgen random``, delay is DelayProxy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import deque

from .sshlab import LabBoard, SSHLab, is_root, wait_banner


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def netns_supported() -> tuple[bool, str]:
    if not is_root():
        return False, "network-namespace lab needs root (CI runs as root)"
    if shutil.which("ip") is None:
        return False, "iproute2 'ip' not installed"
    probe = f"bbprobe{os.getpid()}"
    if _ip("netns", "add", probe, check=False).returncode != 0:
        return False, "'ip netns add' is not permitted here"
    _ip("netns", "del", probe, check=False)
    return True, ""


class NetLab:
    def __init__(self, lab: SSHLab) -> None:
        self.lab = lab
        self.tag = str(os.getpid())
        self.subnet = f"10.201.{os.getpid() % 250}"
        self.bridge = f"bbr{self.tag}"[:15]
        self.count = 0
        self.namespaces: list[str] = []
        self.veths: dict[str, str] = {}
        # safety net for every lab subnet (less specific than the bridge's /24; left in place, harmless)
        _ip("route", "replace", "unreachable", "10.201.0.0/16")
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def add_board(self, name: str, **kw: object) -> LabBoard:
        i = self.count
        self.count += 1
        ns, veth = f"bb{self.tag}-{i}", f"bv{self.tag}x{i}"[:15]
        addr = f"{self.subnet}.{10 + i}"
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "set", veth, "master", self.bridge, "up")
        for args in (("addr", "add", f"{addr}/24", "dev", "eth0"), ("link", "set", "eth0", "up"),
                     ("link", "set", "lo", "up")):
            _ip("-n", ns, *args)
        self.veths[name] = veth
        return self.lab.add_board(name, addr=addr, netns=ns, **kw)  # type: ignore[arg-type]

    def veth(self, board: LabBoard) -> str:
        return self.veths[board.name]

    def cut(self, board: LabBoard) -> None:
        _ip("link", "set", self.veth(board), "down")

    def restore(self, board: LabBoard) -> None:
        _ip("link", "set", self.veth(board), "up")
        wait_banner(board.addr, board.port, timeout_s=10)  # linkwatch needs up to ~1 s

    def rate(self, board: LabBoard, rate: str) -> None:
        subprocess.run(["tc", "qdisc", "replace", "dev", self.veth(board), "root", "tbf", "rate", rate,
                        "burst", "64kb", "latency", "200ms"], check=True)

    def unrate(self, board: LabBoard) -> None:
        subprocess.run(["tc", "qdisc", "del", "dev", self.veth(board), "root"], check=False)

    def loss(self, board: LabBoard, percent: int) -> None:
        assert board.netns
        rules = (f"table inet bblab {{\n"
                 f"  chain in {{ type filter hook input priority 0; "
                 f"meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n"
                 f"  chain out {{ type filter hook output priority 0; "
                 f"meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n}}\n")
        subprocess.run(["ip", "netns", "exec", board.netns, "nft", "-f", "-"], input=rules, text=True,
                       check=True)

    def dropped(self, board: LabBoard) -> int:
        """Packets the loss rules have dropped so far."""
        assert board.netns
        out = subprocess.run(["ip", "netns", "exec", board.netns, "nft", "list", "table", "inet", "bblab"],
                             capture_output=True, text=True, check=True).stdout
        words = out.split()
        return sum(int(words[i + 2]) for i, w in enumerate(words) if w == "counter")

    def close(self) -> None:
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)


class DelayProxy:
    """A loopback TCP relay adding a fixed one-way delay in each direction, order kept, no rate cap.
    Runs in the test process (threads); the board address stays the real sshd behind it."""

    def __init__(self, target: tuple[str, int], one_way_s: float) -> None:
        self.target = target
        self.delay_s = one_way_s
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self._closed = False
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._socks.append(s)
            self._pipe(client, upstream)
            self._pipe(upstream, client)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        queue: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()

        def reader() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                with ready:
                    queue.append((time.monotonic() + self.delay_s, data))
                    ready.notify()
                if not data:
                    return

        def writer() -> None:
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    due, data = queue.popleft()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=reader, daemon=True).start()
        threading.Thread(target=writer, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        for s in self._socks:
            s.close()
