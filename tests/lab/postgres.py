"""A private PostgreSQL server for the store tests: ``initdb`` into a temp dir, ``pg_ctl start`` on a free
port with its unix socket in the same temp dir, torn down at session end.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the ``postgres``
system user (created by Debian's ``postgresql`` package) and the tools run through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name),
                      reverse=True)
    for d in versions:
        if (d / name).exists():
            return str(d / name)
    raise FileNotFoundError(f"{name} not found: install Debian's postgresql package (.ci/setup does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (psycopg 3) of a fresh database on a private server; its unix socket lives in tmp.

    The cluster gets its own directory directly under the system temp dir, not under pytest's
    ``pytest-of-<user>``: pytest resets that root to 0700 at every session start, which would lock the
    ``postgres`` user out of a running cluster whenever another pytest session starts on the machine."""
    base = Path(tempfile.mkdtemp(prefix="bb-pg-"))
    data, sock = base / "data", base / "sock"
    as_user: list[str] = []
    try:  # from right after mkdtemp: a failed initdb or start leaves no bb-pg-* behind either
        sock.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (base, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        user = "postgres" if as_user else pwd.getpwuid(os.geteuid()).pw_name
        port = _free_port()
        subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        opts = f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c max_connections=50"
        subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l",
                        str(base / "server.log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
        subprocess.run([*as_user, _pg_bin("createdb"), "-h", str(sock), "-p", str(port), "-U", user,
                        "benchbench"],
                       check=True, capture_output=True, timeout=60)
        yield f"postgresql+psycopg://{user}@/benchbench?host={sock}&port={port}"
    finally:
        if data.exists():  # initdb ran (pg_ctl is there); stopping a server that never started is harmless
            subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)
