"""pytest fixtures for the SSH lab; imported by tests/conftest.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchbench.transport.ssh import SSHTimeouts, SSHTransport

from .netlab import NetLab, netns_supported
from .sshlab import LabBoard, SSHLab, sshd_available

# short enough that fault tests finish in seconds, long enough for a loaded 2-core CI machine
LAB_TIMEOUTS = SSHTimeouts(connect_s=5.0, user_timeout_s=3.0, keepalive_s=1.0, io_s=10.0, kill_grace_s=2.0)
_names = itertools.count()


@pytest.fixture(scope="session")
def ssh_lab() -> Iterator[SSHLab]:
    if not sshd_available():
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    lab = SSHLab()
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def lab_boards(ssh_lab: SSHLab) -> list[LabBoard]:
    """Three healthy boards shared by the session: tests must not break them (use fresh_board for that)."""
    return [ssh_lab.add_board(f"shared-{i}") for i in range(3)]


@pytest.fixture
def fresh_board(ssh_lab: SSHLab) -> Iterator[LabBoard]:
    """A board of this test's own, killed afterwards: for tests that kill, re-key or fill it."""
    board = ssh_lab.add_board(f"fresh-{next(_names)}")
    yield board
    ssh_lab.kill_tree(board)


@pytest.fixture
def ssh_connect(ssh_lab: SSHLab) -> Iterator[Callable[..., SSHTransport]]:
    """connect(board, **overrides) → SSHTransport with the lab's key, known_hosts and short timeouts."""
    opened: list[SSHTransport] = []

    def connect(board: LabBoard, **kw: Any) -> SSHTransport:
        host = kw.pop("host", board.addr)
        args: dict[str, Any] = {
            "name": board.name, "port": board.port, "user": board.user,
            "identity_file": str(ssh_lab.client_key),
            "known_hosts": ssh_lab.known_hosts, "ssh_config": None, "allow_agent": False,
            "timeouts": LAB_TIMEOUTS}
        args.update(kw)
        t = SSHTransport(host, **args)
        opened.append(t)
        return t

    yield connect
    for t in opened:
        t.close()


@pytest.fixture(scope="session")
def net_lab(ssh_lab: SSHLab) -> Iterator[NetLab]:
    ok, why = netns_supported()
    if not ok:
        pytest.skip(why)
    net = NetLab(ssh_lab)
    yield net
    net.close()


def lab_path(board: LabBoard, *parts: str) -> Path:
    return board.home.joinpath(*parts)
