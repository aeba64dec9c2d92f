"""SSHTransport: the Transport interface over paramiko, hardened for a real device lab.

Why each choice (measured in shared/reference/emulated-lab.md):
- we open the TCP socket ourselves: TCP_NODELAY (exec 47 → 2.5 ms), TCP_USER_TIMEOUT plus transport
  keepalive (otherwise a cut link blocks for minutes; with them paramiko fails within seconds);
- commands run as ``sh -c WRAPPER sh ARGV...``: every argv element is a separate shlex-quoted positional
  parameter, never spliced into shell text; the wrapper starts the command under ``setsid`` and reports
  its process group on stderr, because closing a channel leaves the remote process running — on timeout,
  Ctrl-C or close() we kill that group from a second exec;
- a killed board raises nothing in paramiko (EOF, exit status -1): both mean failure here.
"""

from __future__ import annotations

import logging
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko

from ..errors import CommandTimeout, ConnectError, HostKeyError, TransferError, TransportError
from .base import CommandResult, LineCallback
from .hostkeys import PinnedKeyPolicy, changed_key_error, check_known_hosts
from .sshconfig import DEFAULT_SSH_CONFIG, Endpoint, resolve
from .sshexec import NET_ERRORS, Job, remote_command, tcp_socket

log = logging.getLogger(__name__)
_KILL = ('kill -s TERM -- "-$1" 2>/dev/null || exit 0; i=0; while kill -s 0 -- "-$1" 2>/dev/null; do '
         'i=$((i+1)); if [ "$i" -gt "$2" ]; then kill -s KILL -- "-$1" 2>/dev/null; exit 0; fi; '
         'sleep 0.1; done')
_FREE = 'p=$1; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done; df -Pk -- "$p"'


@dataclass(frozen=True)
class SSHTimeouts:
    connect_s: float = 10.0  # TCP connect, banner, key exchange, auth (each)
    user_timeout_s: float = 20.0  # TCP_USER_TIMEOUT: unacknowledged data this long → link is dead
    keepalive_s: float = 5.0  # SSH keepalive, so an idle receiver still has data in flight to time out
    io_s: float = 60.0  # a transfer or control command making no progress this long fails
    kill_grace_s: float = 5.0  # SIGTERM → SIGKILL for an abandoned remote process group


DEFAULT_TIMEOUTS = SSHTimeouts()


class SSHTransport:
    """One pinned, authenticated SSH connection to one board. Connects in the constructor."""

    def __init__(self, host: str, *, name: str | None = None, port: int | None = None,
                 user: str | None = None, identity_file: str | None = None,
                 known_hosts: Path | None = None, ssh_config: Path | None = DEFAULT_SSH_CONFIG,
                 accept_new_host_keys: bool = False, allow_agent: bool = True,
                 timeouts: SSHTimeouts = DEFAULT_TIMEOUTS) -> None:
        self.name = name or host
        self.endpoint = resolve(host, port=port, user=user, identity_file=identity_file,
                                ssh_config=ssh_config)
        self.known_hosts = known_hosts or Path("~/.ssh/known_hosts").expanduser()
        self.accept_new = accept_new_host_keys
        self.allow_agent = allow_agent
        self.timeouts = timeouts
        self._clients: list[paramiko.SSHClient] = []  # jump hops first, the board last
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()
        self._home: str | None = None
        self._active: dict[int, Job] = {}  # commands in flight, for close()
        self._active_lock = threading.Lock()
        self._closing = False
        self.connect()

    # -- connection --------------------------------------------------------------------------------------
    def connect(self) -> None:
        """(Re)open the connection through any ProxyJump hops."""
        self._close_clients()
        self._closing = False
        t = self.timeouts
        sock: socket.socket | paramiko.Channel | None = None
        try:
            for hop in (*self.endpoint.jumps, self.endpoint):
                if sock is None:
                    sock = tcp_socket(hop.hostname, hop.port, t.connect_s, t.user_timeout_s)
                client = self._handshake(hop, sock)
                self._clients.append(client)
                if hop is not self.endpoint:
                    sock = self._tunnel(client, hop)
        except BaseException:
            if sock is not None and not self._clients:
                sock.close()
            self._close_clients()
            raise

    def _tunnel(self, client: paramiko.SSHClient, hop: Endpoint) -> paramiko.Channel:
        nxt = self._next_hop(hop)
        transport = client.get_transport()
        assert transport is not None
        try:
            return transport.open_channel("direct-tcpip", (nxt.hostname, nxt.port), ("127.0.0.1", 0),
                                          timeout=self.timeouts.connect_s)
        except NET_ERRORS as exc:
            raise ConnectError(f"{self.name}: jump host {hop.alias} cannot reach {nxt.hostname}:{nxt.port}: "
                               f"{exc}") from exc

    def _next_hop(self, hop: Endpoint) -> Endpoint:
        chain = (*self.endpoint.jumps, self.endpoint)
        return chain[chain.index(hop) + 1]

    def _handshake(self, ep: Endpoint, sock: socket.socket | paramiko.Channel) -> paramiko.SSHClient:
        t = self.timeouts
        client = paramiko.SSHClient()
        if self.known_hosts.is_file():
            check_known_hosts(self.known_hosts)  # a garbage file is a ConfigError, not a paramiko crash
            client.load_host_keys(str(self.known_hosts))  # never the system files: pins are ours
        client.set_missing_host_key_policy(PinnedKeyPolicy(self.known_hosts, ep.port, self.accept_new))
        where = f"{ep.user}@{ep.hostname}:{ep.port}"
        try:
            client.connect(ep.hostname, ep.port, username=ep.user, sock=sock,
                           key_filename=list(ep.identity_files) or None,  # type: ignore[arg-type]
                           look_for_keys=not ep.identity_files, allow_agent=self.allow_agent,
                           timeout=t.connect_s, banner_timeout=t.connect_s, auth_timeout=t.connect_s,
                           channel_timeout=t.connect_s)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise changed_key_error(ep.hostname, ep.port, exc.key, exc.expected_key,
                                    self.known_hosts) from None
        except HostKeyError:
            client.close()
            raise
        except (paramiko.AuthenticationException, paramiko.PasswordRequiredException) as exc:
            client.close()
            raise ConnectError(f"{self.name}: authentication failed for {where}: {exc}",
                               hint="check the board's user and identity_file, and that the public key is in "
                                    "its ~/.ssh/authorized_keys") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            if "authentication methods" in str(exc):
                raise ConnectError(f"{self.name}: no key to authenticate {where}",
                                   hint="set identity_file for this board") from None
            raise ConnectError(f"{self.name}: SSH handshake with {where} failed: {exc or type(exc).__name__}"
                               ) from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(max(1, int(t.keepalive_s)))
        return client

    def _transport(self) -> paramiko.Transport:
        transport = self._clients[-1].get_transport() if self._clients else None
        if transport is None or not transport.is_active():
            raise TransportError(f"{self.name}: connection lost ({self._why()})")
        return transport

    def _why(self) -> str:
        transport = self._clients[-1].get_transport() if self._clients else None
        exc = transport.get_exception() if transport is not None else None
        return f"{type(exc).__name__} {exc}".strip() if exc else "closed"

    def is_alive(self) -> bool:
        transport = self._clients[-1].get_transport() if self._clients else None
        return transport is not None and transport.is_active()

    # -- commands ----------------------------------------------------------------------------------------
    @property
    def home(self) -> str:
        if self._home is None:
            code, out, err = self._exec('printf %s "$HOME"', self.timeouts.io_s)
            if code != 0 or not out.startswith("/"):
                raise TransportError(f"{self.name}: cannot read $HOME on the board: {err.strip()}")
            self._home = out
        return self._home

    def remote_path(self, path: str) -> str:
        """``~`` and relative paths are taken from the login's $HOME (as the agent and shells see it)."""
        if path == "~" or path.startswith("~/"):
            return self.home + path[1:]
        return path if path.startswith("/") else str(PurePosixPath(self.home) / path)

    def _exec(self, cmdline: str, timeout_s: float) -> tuple[int, str, str]:
        """A short control command (no setsid): (exit code, stdout, stderr)."""
        try:
            chan = self._transport().open_session(timeout=self.timeouts.connect_s)
            try:
                chan.settimeout(timeout_s)
                chan.exec_command(cmdline)
                out = chan.makefile("rb").read()
                err = chan.makefile_stderr("rb").read()
                if not chan.status_event.wait(timeout_s):
                    raise CommandTimeout(f"{self.name}: control command timed out")
                return chan.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")
            finally:
                chan.close()
        except TimeoutError as exc:
            raise CommandTimeout(f"{self.name}: control command made no progress "
                                 f"for {timeout_s:.0f} s") from exc
        except NET_ERRORS as exc:
            raise TransportError(f"{self.name}: {exc or type(exc).__name__} ({self._why()})") from exc

    def run(self, argv: Sequence[str], *, timeout_s: float | None = None,
            on_stdout_line: LineCallback | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None) -> CommandResult:
        argv = [self.remote_path(a) if a.startswith("~/") else a for a in argv]
        cmdline = remote_command(argv, env)
        t0 = time.monotonic()
        deadline = None if timeout_s is None else t0 + timeout_s
        try:
            chan = self._transport().open_session(timeout=self.timeouts.connect_s)
        except NET_ERRORS as exc:
            raise TransportError(f"{self.name}: cannot open a channel: {exc} ({self._why()})") from exc
        job = Job(chan, on_stdout_line)
        with self._active_lock:
            self._active[id(job)] = job
        try:
            chan.settimeout(0.25)  # poll granularity for the deadline; Ctrl-C lands between polls
            chan.exec_command(cmdline)
            job.start_stderr()
            if stdin is not None:
                job.start_stdin(stdin)
            else:
                chan.shutdown_write()
            job.pump_stdout(deadline)
            while not chan.status_event.wait(0.25):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError()
            job.join()
            code = chan.recv_exit_status()
        except TimeoutError:
            self._abandon(job)
            raise CommandTimeout(f"{self.name}: {argv[0]} did not finish within {timeout_s:g} s; remote "
                                 "process group killed") from None
        except NET_ERRORS as exc:
            self._abandon(job)
            raise TransportError(f"{self.name}: running {argv[0]} failed: {exc} ({self._why()})") from exc
        except BaseException:
            self._abandon(job)  # Ctrl-C or a callback error: never leave the command running on the board
            raise
        finally:
            with self._active_lock:
                self._active.pop(id(job), None)
            chan.close()
        if self._closing:
            raise TransportError(f"{self.name}: transport closed while {argv[0]} was running; remote process "
                                 "group killed")
        if code == -1:
            if not self.is_alive():
                raise TransportError(f"{self.name}: connection lost while running {argv[0]} ({self._why()})")
            raise TransportError(f"{self.name}: {argv[0]} ended without an exit status")
        return CommandResult(argv=tuple(argv), exit_code=code, stdout=job.stdout(),
                             stderr_tail=job.stderr_tail(), duration_s=time.monotonic() - t0)

    def _abandon(self, job: Job) -> None:
        job.pgid_seen.wait(1.0)
        if job.pgid > 1:
            self.kill_group(job.pgid)
        else:
            log.warning("%s: abandoned a command whose process group was never reported", self.name)
        job.chan.close()

    def kill_group(self, pgid: int) -> None:
        """SIGTERM a remote process group, SIGKILL it after the grace period. Reconnects once if the
        connection is gone (best effort: an unreachable board cannot be cleaned now)."""
        line = " ".join(["sh", "-c", shlex.quote(_KILL), "sh", str(int(pgid)),
                         str(int(self.timeouts.kill_grace_s * 10))])
        for attempt in (1, 2):
            try:
                if attempt == 2:
                    self.connect()
                self._exec(line, self.timeouts.kill_grace_s + self.timeouts.io_s)
                return
            except TransportError as exc:
                if attempt == 2:
                    log.warning("%s: could not kill remote process group %d: %s", self.name, pgid, exc)

    def free_bytes(self, path: str) -> int:
        """Bytes available to us on the filesystem holding path (or its nearest existing parent)."""
        line = " ".join(["sh", "-c", shlex.quote(_FREE), "sh", shlex.quote(self.remote_path(path))])
        _code, out, err = self._exec(line, self.timeouts.io_s)
        try:
            return int(out.strip().splitlines()[-1].split()[3]) * 1024
        except (IndexError, ValueError):
            raise TransportError(f"{self.name}: cannot read free disk for {path}: "
                                 f"{err.strip() or out}") from None

    # -- files -------------------------------------------------------------------------------------------
    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None or self._sftp.sock.closed:
            self._sftp = self._transport().open_sftp_client()
            self._sftp.get_channel().settimeout(self.timeouts.io_s)  # type: ignore[union-attr]
        return self._sftp

    def put(self, local: Path, remote: str, *, mode: int = 0o644, sha256: str | None = None) -> None:
        dest = self.remote_path(remote)
        tmp = f"{dest}.bbpart-{uuid.uuid4().hex[:12]}"
        if not local.is_file():
            raise TransferError(f"{self.name}: {local} is not a file")
        with self._sftp_lock:
            try:
                sftp = self._sftp_client()
                self._mkdirs(sftp, str(PurePosixPath(dest).parent))
                sftp.put(str(local), tmp, confirm=True)  # confirm: remote size must equal ours
                sftp.chmod(tmp, mode)
                if sha256 is not None:
                    self._check_sha256(tmp, sha256)
                sftp.posix_rename(tmp, dest)
            except (*NET_ERRORS, TransportError) as exc:
                self._remove_quietly(tmp)
                why = self._disk_full(str(PurePosixPath(dest).parent), local.stat().st_size)
                raise TransferError(f"{self.name}: upload of {local} to {dest} failed: "
                                    f"{why or exc or type(exc).__name__}",
                                    hint="free space on the board or use a work_dir on a larger disk"
                                    if why else None) from exc

    def _disk_full(self, directory: str, size: int) -> str | None:
        """SFTP reports ENOSPC as a bare 'Failure' (or a short file): ask the board's df to say it plainly."""
        try:
            free = self.free_bytes(directory) if self.is_alive() else None
        except TransportError:
            return None
        if free is not None and free < size:
            return (f"the board's disk is full ({free / 1e6:.1f} MB free in {directory}, "
                    f"{size / 1e6:.1f} MB needed)")
        return None

    def _check_sha256(self, path: str, expected: str) -> None:
        code, out, err = self._exec(f"sha256sum -- {shlex.quote(path)}", self.timeouts.io_s)
        got = out.split()[0] if code == 0 and out else ""
        if got != expected:
            raise TransferError(f"{self.name}: sha256 of uploaded {path} is {got or err.strip()!r}, "
                                f"expected {expected}")

    def _remove_quietly(self, path: str) -> None:
        try:
            if self._sftp is not None and self.is_alive():
                self._sftp.remove(path)
        except NET_ERRORS:
            pass

    @staticmethod
    def _mkdirs(sftp: paramiko.SFTPClient, path: str) -> None:
        missing = []
        p = PurePosixPath(path)
        while str(p) not in ("/", "."):
            try:
                sftp.stat(str(p))
                break
            except FileNotFoundError:
                missing.append(p)
                p = p.parent
        for d in reversed(missing):
            sftp.mkdir(str(d))

    def get(self, remote: str, local: Path) -> None:
        src = self.remote_path(remote)
        tmp = local.with_name(f"{local.name}.bbpart-{uuid.uuid4().hex[:12]}")
        with self._sftp_lock:
            try:
                self._sftp_client().get(src, str(tmp))
                tmp.replace(local)
            except (*NET_ERRORS, TransportError) as exc:
                tmp.unlink(missing_ok=True)
                raise TransferError(f"{self.name}: download of {src} failed: {exc or type(exc).__name__}"
                                    ) from exc

    # -- lifetime ----------------------------------------------------------------------------------------
    def close(self) -> None:
        """Kill every command still running through this transport, then disconnect."""
        with self._active_lock:
            self._closing = bool(self._active)
            jobs = list(self._active.values())
        for job in jobs:
            job.pgid_seen.wait(1.0)  # a command started a moment ago has not reported its group yet
            if job.pgid > 1 and self.is_alive():
                self.kill_group(job.pgid)
        self._close_clients()

    def _close_clients(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        for client in reversed(self._clients):
            client.close()
        self._clients = []

    def __enter__(self) -> SSHTransport:  # noqa: PYI034  (typing.Self needs 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
