"""Every lab fault at the transport level: a bounded, typed error, and nothing left running on the board."""

from __future__ import annotations

import _thread
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from lab.netlab import DelayProxy
from lab.sshlab import SmallDisk, black_hole, is_root

from benchbench.errors import CommandTimeout, ConnectError, TransferError, TransportError
from benchbench.transport.ssh import SSHTimeouts


def _gone(ssh_lab, marker: str, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not ssh_lab.all_pids_matching(marker):
            return True
        time.sleep(0.05)
    return False


def test_refused(fresh_board, ssh_lab, ssh_connect):
    ssh_lab.kill_tree(fresh_board)
    t0 = time.monotonic()
    with pytest.raises(ConnectError, match="refused"):
        ssh_connect(fresh_board)
    assert time.monotonic() - t0 < 1.0


def test_black_holed_address_times_out(lab_boards, ssh_connect):
    lst, fillers, port = black_hole()
    try:
        t0 = time.monotonic()
        with pytest.raises(ConnectError, match="timed out"):
            ssh_connect(lab_boards[0], port=port, timeouts=SSHTimeouts(connect_s=1.0))
        assert 0.9 < time.monotonic() - t0 < 3.0
    finally:
        for s in (lst, *fillers):
            s.close()


def test_silent_server_banner_timeout(lab_boards, ssh_connect):
    with socket.socket() as lst:  # accepts TCP, never speaks SSH
        lst.bind(("127.0.0.1", 0))
        lst.listen(4)
        t0 = time.monotonic()
        with pytest.raises(ConnectError, match="handshake"):
            ssh_connect(lab_boards[0], port=lst.getsockname()[1], timeouts=SSHTimeouts(connect_s=1.0))
        assert time.monotonic() - t0 < 4.0


def test_hanging_command_times_out_and_group_is_killed(ssh_lab, lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[0])
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout, match="process group killed"):
        # the child ignores SIGTERM: only the SIGKILL escalation gets it
        t.run(["sh", "-c", "sh -c 'trap \"\" TERM; sleep 981.25' & sleep 982.25; wait"], timeout_s=1.0)
    assert time.monotonic() - t0 < 1.0 + 2.0 + 2.0  # timeout + kill grace + slack
    assert _gone(ssh_lab, "sleep 981.25") and _gone(ssh_lab, "sleep 982.25")
    assert t.run(["true"]).ok  # the connection is still usable


def test_ctrl_c_kills_remote_group(ssh_lab, lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[1])
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        t.run(["sleep", "983.25"])
    assert _gone(ssh_lab, "sleep 983.25")


def test_close_kills_commands_running_in_other_threads(ssh_lab, lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[2])
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            t.run(["sleep", "984.25"])
        except TransportError as exc:  # collected for the assertion below
            errors.append(exc)

    th = threading.Thread(target=worker)
    th.start()
    deadline = time.monotonic() + 5
    while not ssh_lab.all_pids_matching("sleep 984.25") and time.monotonic() < deadline:
        time.sleep(0.02)
    t.close()
    th.join(10)
    assert not th.is_alive() and isinstance(errors[0], TransportError)
    assert _gone(ssh_lab, "sleep 984.25")


def test_sshd_tree_killed_mid_command(ssh_lab, fresh_board, ssh_connect):
    t = ssh_connect(fresh_board)
    lines: list[str] = []
    threading.Timer(0.5, ssh_lab.kill_tree, args=(fresh_board,)).start()
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="connection lost"):
        t.run(["sh", "-c", "while :; do echo tick; sleep 0.1; done"], on_stdout_line=lines.append)
    assert time.monotonic() - t0 < 3.0 and lines[:2] == ["tick", "tick"]
    assert not t.is_alive()


def test_agent_killed_gives_its_signal_status(ssh_lab, lab_boards, ssh_connect):
    t = ssh_connect(lab_boards[0])

    def kill_it() -> None:
        for pid in ssh_lab.all_pids_matching("sleep 985.25", prefix=True):  # the command, not our wrapper
            os.kill(pid, 9)

    threading.Timer(0.5, kill_it).start()
    res = t.run(["sleep", "985.25"], timeout_s=10)
    assert res.exit_code == 128 + 9


@pytest.mark.skipif(not is_root(), reason="mounting a small tmpfs needs root (CI runs as root)")
def test_disk_full_during_upload(ssh_lab, fresh_board, ssh_connect, tmp_path):
    disk = SmallDisk(fresh_board.work_dir, size="1m", owner=fresh_board.user)
    try:
        src = tmp_path / "big"
        src.write_bytes(os.urandom(3_000_000))
        t = ssh_connect(fresh_board)
        with pytest.raises(TransferError) as err:
            t.put(src, "~/.cache/benchbench/big")
        assert "disk is full" in str(err.value) and err.value.hint
        assert list(fresh_board.work_dir.iterdir()) == []  # the partial file was removed
    finally:
        disk.close()


@pytest.mark.slow
def test_link_cut_mid_transfer(net_lab, ssh_connect, tmp_path):
    board = net_lab.add_board("cut-0")
    src = tmp_path / "big"
    src.write_bytes(os.urandom(30_000_000))
    net_lab.rate(board, "40mbit")  # ~6 s for 30 MB, so the cut lands mid-transfer
    t = ssh_connect(board)
    threading.Timer(1.0, net_lab.cut, args=(board,)).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(TransferError):
            t.put(src, "~/big")
        elapsed = time.monotonic() - t0
        assert elapsed < 1.0 + 3.0 + 5.0  # cut + TCP_USER_TIMEOUT + keepalive slack
    finally:
        net_lab.restore(board)
        net_lab.unrate(board)
    # the board is fine once the link is back; the partial from the dead session is only a .bbpart file
    t2 = ssh_connect(board)
    assert t2.run(["true"]).ok
    assert not (board.home / "big").exists()
    assert all(".bbpart-" in p.name for p in board.home.iterdir())


def test_loss_and_delay_still_complete(net_lab, ssh_connect, tmp_path):
    board = net_lab.add_board("lossy-0")
    net_lab.loss(board, 5)
    proxy = DelayProxy((board.addr, board.port), one_way_s=0.025)  # 50 ms round trip
    try:
        t = ssh_connect(board, host="127.0.0.1", port=proxy.port,
                        known_hosts=_alias_known_hosts(tmp_path, board, proxy.port))
        assert t.run(["sh", "-c", 'printf %s "$BB_LAB_BOARD"'], timeout_s=30).stdout == "lossy-0"
        data = os.urandom(1_000_000)
        (tmp_path / "f").write_bytes(data)
        t.put(tmp_path / "f", "~/f")
        t.get("~/f", tmp_path / "g")
        assert (tmp_path / "g").read_bytes() == data
        rtt = time.monotonic()
        t.run(["true"], timeout_s=30)
        assert time.monotonic() - rtt >= 0.05  # the delay really is on the path
        assert net_lab.dropped(board) > 0  # and so is the loss
    finally:
        proxy.close()


def _alias_known_hosts(tmp_path, board, port):
    path = tmp_path / "kh_proxy"
    keytype, b64 = Path(f"{board.host_key}.pub").read_text().split()[:2]
    path.write_text(f"[127.0.0.1]:{port} {keytype} {b64}\n")
    return path
