"""The emulated device lab: private OpenSSH sshd "boards" on this machine.

Recipe and measurements: shared/reference/emulated-lab.md. Each board is a real ``sshd -D`` with its own host
key, config and authorized_keys, key-only auth, a login user without shell rc files and its own ``$HOME``
(``SetEnv HOME=...``), so boards sharing one login user never share a work dir. Personalities come from a
per-board extra PATH directory and extra ``SetEnv`` values; when root, sysfs-like trees can be bind-mounted
at real paths under ``unshare --mount``.

Traffic stays on 127.0.0.0/8 (or the namespace subnet in netlab.py).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
LAB_USER = "bblab"
LAB_USER_HOME = "/var/tmp/bblab-home"  # fixed: the account outlives one pytest session


def sshd_available() -> bool:
    return os.access(SSHD, os.X_OK) and shutil.which("ssh-keygen") is not None


def is_root() -> bool:
    return os.geteuid() == 0


def keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True)


def free_port(addr: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def wait_banner(addr: str, port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=1.0) as s:
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.01)
    raise RuntimeError(f"no SSH banner on {addr}:{port} within {timeout_s} s ({last})")


def _ensure_lab_user() -> str:
    """A dedicated login user whose home has no rc files (root's .bashrc costs 150-300 ms per exec)."""
    try:
        pwd.getpwnam(LAB_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", LAB_USER_HOME, "-s", "/bin/bash", "-U", LAB_USER], check=True)
        subprocess.run(["usermod", "-p", "*", LAB_USER], check=True)  # '!' (locked) makes sshd refuse
    os.makedirs(LAB_USER_HOME, exist_ok=True)
    shutil.chown(LAB_USER_HOME, LAB_USER, LAB_USER)
    return LAB_USER


def descendants(pid: int) -> list[int]:
    """All descendants of pid, by walking ppid links in /proc/*/stat (sessions are setsid()'d by sshd)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def processes_matching(pattern: str, *, prefix: bool = False) -> dict[int, str]:
    """pid → command line of every process on this machine but this one (orphans re-parented to init
    included) whose argv contains pattern (or, with prefix, starts with it)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
            except OSError:
                continue
            if cmd.startswith(pattern) if prefix else pattern in cmd:
                out[int(entry)] = cmd
    return out


@dataclass
class LabBoard:
    name: str
    addr: str
    port: int
    dir: Path
    home: Path
    user: str
    host_key: Path
    config: Path
    extra_path: Path | None = None
    setenv: dict[str, str] = field(default_factory=dict)
    netns: str | None = None
    mounts: tuple[tuple[str, str], ...] = ()
    hostname: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts_name(self) -> str:
        return self.addr if self.port == 22 else f"[{self.addr}]:{self.port}"

    @property
    def work_dir(self) -> Path:
        return self.home / ".cache" / "benchbench"

    def host_key_line(self) -> str:
        keytype, b64 = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"{self.known_hosts_name} {keytype} {b64}"

    def pids(self) -> list[int]:
        """The listener and every session process below it."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + descendants(self.proc.pid)


class SSHLab:
    """A set of boards sharing one controller key and one known_hosts file."""

    def __init__(self, root: Path | None = None) -> None:
        # not under pytest's 0700 tmp dirs: the (non-root) login user must traverse into its board dir
        self.root = Path(root or tempfile.mkdtemp(prefix="bblab-"))
        self.root.chmod(0o755)
        self.user = _ensure_lab_user() if is_root() else pwd.getpwuid(os.getuid()).pw_name
        if is_root():
            os.makedirs("/run/sshd", exist_ok=True)  # privilege separation dir of a root sshd
        self.client_key = self.root / "id_ed25519"
        keygen(self.client_key, "bblab-controller")
        self.other_key = self.root / "id_other"  # a key no board accepts
        keygen(self.other_key, "bblab-stranger")
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text("")
        self.boards: dict[str, LabBoard] = {}
        self._lock = threading.Lock()

    # -- boards ------------------------------------------------------------------------------------------
    def add_board(self, name: str, *, extra_path: Path | None = None, setenv: Mapping[str, str] | None = None,
                  addr: str = "127.0.0.1", port: int | None = None, netns: str | None = None,
                  mounts: Sequence[tuple[str, str]] = (), hostname: str | None = None,
                  trust: bool = True, start: bool = True) -> LabBoard:
        bdir = self.root / "boards" / name
        home = bdir / "home"
        home.mkdir(parents=True)
        bdir.chmod(0o755)
        board = LabBoard(name=name, addr=addr, port=port or (22 if netns else free_port(addr)), dir=bdir,
                         home=home, user=self.user, host_key=bdir / "ssh_host_ed25519_key",
                         config=bdir / "sshd_config", extra_path=extra_path, setenv=dict(setenv or {}),
                         netns=netns, mounts=tuple(mounts), hostname=hostname)
        keygen(board.host_key, name)
        shutil.copy(f"{self.client_key}.pub", bdir / "authorized_keys")
        if is_root():
            shutil.chown(home, self.user, self.user)
        self._write_config(board)
        with self._lock:
            self.boards[name] = board
        if trust:
            self.trust(board)
        if start:
            self.start(board)
        return board

    def _write_config(self, b: LabBoard) -> None:
        path = ":".join(p for p in (str(b.extra_path) if b.extra_path else "",
                                    "/usr/local/bin:/usr/bin:/bin") if p)
        env = {"HOME": str(b.home), "PATH": path, "BB_LAB_BOARD": b.name, **b.setenv}
        setenv = " ".join(f'"{k}={v}"' for k, v in env.items())
        b.config.write_text(f"""Port {b.port}
ListenAddress {b.addr}
HostKey {b.host_key}
PidFile none
AuthorizedKeysFile {b.dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers {self.user}
Subsystem sftp internal-sftp
MaxStartups 200:30:400
MaxSessions 100
LogLevel VERBOSE
SetEnv {setenv}
""")

    def _argv(self, b: LabBoard) -> list[str]:
        argv = [SSHD, "-D", "-e", "-f", str(b.config)]
        if b.mounts or b.hostname:
            script = "set -e; " + "".join(f'mount --bind "${{{i * 2 + 1}}}" "${{{i * 2 + 2}}}"; '
                                           for i in range(len(b.mounts)))
            if b.hostname:
                script += f'hostname "${{{len(b.mounts) * 2 + 1}}}"; '
            script += 'exec "$0" -D -e -f "$SSHD_CFG"'
            args = [a for m in b.mounts for a in m] + ([b.hostname] if b.hostname else [])
            argv = ["env", f"SSHD_CFG={b.config}", "unshare", "--uts", "--mount", "--propagation", "private",
                    "--", "sh", "-c", script, SSHD, *args]
        if b.netns:
            argv = ["ip", "netns", "exec", b.netns, *argv]
        return argv

    def start(self, b: LabBoard, timeout_s: float = 5.0) -> None:
        for attempt in range(5):
            with open(b.dir / "sshd.log", "ab") as log:
                b.proc = subprocess.Popen(self._argv(b), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
            try:
                wait_banner(b.addr, b.port, timeout_s) if not b.netns else self._wait_ns(b, timeout_s)
                return
            except RuntimeError:
                if b.proc.poll() is None or b.netns or attempt == 4:
                    raise
                # port taken between free_port() and bind (other sessions run in parallel): next port
                b.port = free_port(b.addr)
                self._write_config(b)
                self.trust(b)

    def _wait_ns(self, b: LabBoard, timeout_s: float) -> None:
        wait_banner(b.addr, b.port, timeout_s)

    def trust(self, b: LabBoard) -> None:
        with self._lock:
            lines = [ln for ln in self.known_hosts.read_text().splitlines()
                     if ln and ln.split()[0] != b.known_hosts_name]
            lines.append(b.host_key_line())
            self.known_hosts.write_text("\n".join(lines) + "\n")

    def kill_tree(self, b: LabBoard) -> None:
        """SIGKILL the listener and every session below it (SIGTERM to the listener spares sessions).
        Everything is stopped first, like a crash: no process gets to report the others' deaths."""
        pids = b.pids()
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        if b.proc is not None:
            b.proc.wait(timeout=5)

    def restart(self, b: LabBoard) -> None:
        self.kill_tree(b)
        self.start(b)

    def rotate_host_key(self, b: LabBoard) -> None:
        """The board is 'reinstalled': a new host key, our known_hosts still holds the old one."""
        for suffix in ("", ".pub"):
            Path(f"{b.host_key}{suffix}").unlink()
        keygen(b.host_key, b.name + "-new")
        self.restart(b)

    def remote_pids(self, b: LabBoard, pattern: str) -> list[int]:
        """Processes of this board's sessions whose command line contains pattern (the board is local)."""
        out = []
        for pid in descendants(b.proc.pid) if b.proc else []:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if pattern in cmd:
                out.append(pid)
        return out

    def all_pids_matching(self, pattern: str, *, prefix: bool = False) -> list[int]:
        """``processes_matching``'s pids (the boards are local: any process on this machine)."""
        return list(processes_matching(pattern, prefix=prefix))

    def close(self) -> None:
        for b in list(self.boards.values()):
            try:
                self.kill_tree(b)
            except (OSError, subprocess.SubprocessError):  # keep stopping the others
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def black_hole() -> tuple[socket.socket, list[socket.socket], int]:
    """A loopback port that swallows SYNs: a listener with a full accept queue drops new ones silently,
    so connect() times out exactly as for an unplugged board (no root, no traffic off the machine)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = int(lst.getsockname()[1])
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.05)
    return lst, fillers, port


class SmallDisk:
    """A tiny tmpfs mounted over a directory (root only): the board's disk is full."""

    def __init__(self, target: Path, size: str = "1m", owner: str | None = None) -> None:
        self.target = target
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
                       check=True)
        if owner:
            shutil.chown(target, owner, owner)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.target)], check=False)


def socket_owners(local_port: int) -> list[int]:
    """PIDs holding a TCP socket whose local port is local_port (to see who opened a connection)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(cols[9])
    owners = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    owners.append(int(entry))
                    break
        except OSError:
            continue
    return owners
