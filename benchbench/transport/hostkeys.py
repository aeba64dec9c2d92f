"""Pinned host keys: our own known_hosts file, never the system's, and no silent trust.

An unknown key is refused with its SHA256 fingerprint and the command that trusts it; with the explicit
``accept_new`` opt-in it is recorded (trust on first use). A *changed* key is always refused: paramiko
raises BadHostKeyException before any policy runs, and ssh.py turns that into HostKeyError.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path

import paramiko

from ..errors import ConfigError, HostKeyError
from ..files import read_text

log = logging.getLogger(__name__)
_write_lock = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint (base64 without padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The host field OpenSSH writes: bare for port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def _trust_hint(host: str, port: int, known_hosts: Path) -> str:
    port_opt = f"-p {port} " if port != 22 else ""
    scan = f"ssh-keyscan {port_opt}{host}"
    return ("verify the fingerprint on the board's console (ssh-keygen -lf "
            f"/etc/ssh/ssh_host_ed25519_key.pub), then trust it: {scan} >> {known_hosts}  (or rerun with "
            "--accept-new-host-keys)")


def changed_key_error(host: str, port: int, got: paramiko.PKey, expected: paramiko.PKey,
                      known_hosts: Path) -> HostKeyError:
    name = known_hosts_name(host, port)
    return HostKeyError(
        f"HOST KEY CHANGED for {name}: known_hosts {known_hosts} pins {expected.get_name()} "
        f"{fingerprint(expected)}, the board offered {got.get_name()} {fingerprint(got)}. Refused: this is "
        f"either a reinstalled board or a machine in the middle.",
        hint=f"if the board was reinstalled, remove the old entry (ssh-keygen -R '{name}' -f {known_hosts}) "
             f"and trust the new key after verifying it")


def check_known_hosts(known_hosts: Path) -> None:
    """Refuse a known_hosts file paramiko would choke on (binary, bad base64) with its file and line; a
    missing file is fine (no host is pinned yet)."""
    if not known_hosts.is_file():
        return
    text = read_text(known_hosts, 64 << 20)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
        except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError) as exc:
            raise ConfigError(f"not a valid known_hosts entry ({type(exc).__name__})", file=str(known_hosts),
                              key=f"line {lineno}", hint="remove or fix that line (ssh-keygen -R HOST "
                                                         "removes a host's entries)") from None


def append_known_host(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> None:
    """Append one entry; safe against other threads and other controller processes."""
    line = f"{known_hosts_name(host, port)} {key.get_name()} {key.get_base64()}\n"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock:
        fd = os.open(known_hosts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class PinnedKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only for hosts with no entry at all (a mismatch never reaches a policy)."""

    def __init__(self, known_hosts: Path, port: int, accept_new: bool) -> None:
        self.known_hosts = known_hosts
        self.port = port
        self.accept_new = accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        # paramiko hands us the known_hosts-style name ("[h]:p" for p != 22); we want the bare host back
        host = hostname[1:].rsplit("]:", 1)[0] if hostname.startswith("[") else hostname
        if self.accept_new:
            append_known_host(self.known_hosts, host, self.port, key)
            client.get_host_keys().add(hostname, key.get_name(), key)
            log.warning("recorded new host key for %s: %s %s in %s", hostname, key.get_name(),
                        fingerprint(key), self.known_hosts)
            return
        raise HostKeyError(
            f"unknown host key for {hostname}: {key.get_name()} {fingerprint(key)} is not in "
            f"{self.known_hosts}",
            hint=_trust_hint(host, self.port, self.known_hosts))
