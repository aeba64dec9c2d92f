"""SSHTransport against real sshd boards: commands, streaming, files, host keys, ssh config, quoting."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from lab.sshlab import descendants, socket_owners

from benchbench.errors import ConnectError, HostKeyError, TransferError
from benchbench.transport.base import Transport

CANARY_ARGS = ["; touch {c}", "$(touch {c})", "`touch {c}`", "' ; touch {c} '", '" ; touch {c} "',
               "a b\tc", "line1\ntouch {c}\n", "| touch {c}", "&& touch {c}", "> {c}", "*"]


def test_is_a_transport(lab_boards, ssh_connect):
    assert isinstance(ssh_connect(lab_boards[0]), Transport)


def test_run_exit_code_stdout_stderr_stdin_env(lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[0])
    res = t.run(["sh", "-c", 'echo "out $FOO"; echo err >&2; cat; exit 3'], env={"FOO": "a b"}, stdin=b"in\n")
    assert (res.exit_code, res.stdout, res.stderr_tail) == (3, "out a b\nin\n", "err\n")
    assert not res.ok
    assert t.run(["true"]).ok


def test_streams_lines_while_running_and_drains_both_pipes(lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[0])
    seen: list[tuple[float, str]] = []
    t0 = time.monotonic()
    res = t.run(["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done"],
                on_stdout_line=lambda ln: seen.append((time.monotonic() - t0, ln)))
    assert [ln for _, ln in seen] == ["line1", "line2", "line3"]
    assert seen[0][0] < seen[2][0] - 0.4  # delivered as produced, not at the end
    assert res.ok
    # 4 MB on each pipe: a reader that drains one pipe at a time deadlocks on the other's window
    big = t.run(["sh", "-c", "head -c 4000000 /dev/zero | tr '\\0' a; head -c 4000000 /dev/zero >&2"],
                timeout_s=30)
    assert big.ok and len(big.stdout) == 4_000_000


def test_argv_metacharacters_never_execute(lab_boards, ssh_connect, tmp_path):
    board = lab_boards[1]
    canary = board.home / "CANARY"
    args = [a.format(c=canary) for a in CANARY_ARGS]
    t = ssh_connect(board)
    res = t.run(["printf", "%s\\0", *args], env={"BB_X": f"$(touch {canary})"})
    assert res.stdout.split("\0")[:-1] == args
    assert t.run(["sh", "-c", 'printf %s "$BB_X"'],
                 env={"BB_X": "`touch x`; $(y)"}).stdout == "`touch x`; $(y)"
    # file names and directories made of metacharacters, through put/get and free_bytes
    src = tmp_path / "src"
    src.write_bytes(b"payload")
    weird = f"~/we ird;$(touch {canary})`touch {canary}`'\"/f;$(touch {canary})\nx"
    t.put(src, weird)
    t.get(weird, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b"payload"
    assert t.free_bytes(weird) > 0
    assert not canary.exists()


def test_put_get_roundtrip_sha256_and_atomicity(lab_boards, ssh_connect, tmp_path):
    board = lab_boards[0]
    t = ssh_connect(board)
    data = os.urandom(3_000_000)
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    t.put(src, "~/files/a.bin", mode=0o600, sha256=hashlib.sha256(data).hexdigest())
    dest = board.home / "files" / "a.bin"
    assert dest.read_bytes() == data and (dest.stat().st_mode & 0o777) == 0o600
    with pytest.raises(TransferError, match="sha256"):
        t.put(src, "~/files/b.bin", sha256="0" * 64)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.bin"]  # no partial, no b.bin
    t.get("~/files/a.bin", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == data
    with pytest.raises(TransferError, match="download"):
        t.get("~/files/none", tmp_path / "none")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "copy"]


def test_home_and_free_disk(lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[2])
    assert t.home == str(lab_boards[2].home)
    st = os.statvfs(lab_boards[2].home)
    assert abs(t.free_bytes("~/not/yet/there") - st.f_bavail * st.f_frsize) < 64 << 20


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def test_unknown_host_key_is_refused_with_fingerprint(ssh_lab, lab_boards, ssh_connect, tmp_path):
    board = lab_boards[0]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as err:
        ssh_connect(board, known_hosts=empty)
    assert _fingerprint(Path(f"{board.host_key}.pub")) in str(err.value)
    assert "ssh-keyscan" in (err.value.hint or "") and "--accept-new-host-keys" in (err.value.hint or "")
    assert empty.read_text() == ""
    # opt-in: the new key is recorded as [host]:port and then pinned
    ssh_connect(board, known_hosts=empty, accept_new_host_keys=True).run(["true"])
    assert empty.read_text().split() == board.host_key_line().split()
    assert ssh_connect(board, known_hosts=empty).run(["true"]).ok


def test_changed_host_key_is_always_refused(ssh_lab, fresh_board, ssh_connect):
    old_pins = ssh_lab.known_hosts.read_text()
    ssh_lab.rotate_host_key(fresh_board)
    for accept in (False, True):
        with pytest.raises(HostKeyError, match="CHANGED") as err:
            ssh_connect(fresh_board, accept_new_host_keys=accept)
        assert _fingerprint(Path(f"{fresh_board.host_key}.pub")) in str(err.value)
        assert "ssh-keygen -R" in (err.value.hint or "")
    assert ssh_lab.known_hosts.read_text() == old_pins


def test_auth_failure(ssh_lab, lab_boards, ssh_connect):
    with pytest.raises(ConnectError, match="authentication failed") as err:
        ssh_connect(lab_boards[0], identity_file=str(ssh_lab.other_key))
    assert "authorized_keys" in (err.value.hint or "")


def test_ssh_config_alias_and_proxyjump(ssh_lab, lab_boards, ssh_connect, tmp_path):
    jump, target = lab_boards[0], lab_boards[1]
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"""Host jumpbox
  HostName {jump.addr}
  Port {jump.port}
  User {jump.user}
  IdentityFile {ssh_lab.client_key}
Host board-alias
  HostName {target.addr}
  Port {target.port}
  User {target.user}
  IdentityFile {ssh_lab.client_key}
Host behind-jump
  HostName {target.addr}
  Port {target.port}
  User {target.user}
  IdentityFile {ssh_lab.client_key}
  ProxyJump jumpbox
""")
    direct = ssh_connect(target, host="board-alias", port=None, user=None, identity_file=None, ssh_config=cfg)
    assert direct.run(["sh", "-c", 'printf %s "$BB_LAB_BOARD"']).stdout == target.name
    via = ssh_connect(target, host="behind-jump", port=None, user=None, identity_file=None, ssh_config=cfg)
    conn = via.run(["sh", "-c", 'printf %s "$SSH_CONNECTION"']).stdout.split()
    assert via.run(["sh", "-c", 'printf %s "$BB_LAB_BOARD"']).stdout == target.name
    # the TCP connection into the target was opened by the jump board's sshd, not by us
    owners = set(socket_owners(int(conn[1])))
    assert owners and owners <= set(descendants(jump.proc.pid)) and os.getpid() not in owners


def test_concurrent_runs_share_one_connection(lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[2])
    results: list[str] = []
    threads = [threading.Thread(target=lambda i=i: results.append(t.run(["echo", str(i)]).stdout))
               for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [f"{i}\n" for i in range(8)]
