"""SSH fleet benchmarks on the emulated lab (pytest-benchmark, marked perf; run on demand):

    python -m pytest tests/perf/test_fleet.py -m perf --benchmark-json=fleet-bench.json

Goals (issue #3): a cold 50 MB upload reaches ≥ 0.8x the throughput of OpenSSH ``scp`` of the same file
in the same run; a warm re-deploy sends 0 bytes; 1, 8 and 32 boards each running a 2 s job give
wall(32)/wall(1) ≤ 1.25 and ≤ 0.05 controller CPU seconds per board. Numbers go to ``extra_info``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from lab.fixtures import LAB_TIMEOUTS

from benchbench.config.fleet import BoardSpec, Fleet
from benchbench.deploy.agent_build import build_agent
from benchbench.deploy.remote import deploy_files
from benchbench.transport.fleet import fan_out, ssh_opener

pytestmark = pytest.mark.perf
SIZE = 50_000_000


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perf") / "artifact.onnx"
    path.write_bytes(os.urandom(SIZE))
    return path


def _scp(ssh_lab: Any, board: Any, src: Path, dest: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(["scp", "-q", "-i", str(ssh_lab.client_key), "-P", str(board.port), "-o", "BatchMode=yes",
                    "-o", f"UserKnownHostsFile={ssh_lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                    str(src), f"{board.user}@{board.addr}:{dest}"], check=True)
    return time.perf_counter() - t0


def test_cold_upload_vs_scp(benchmark: Any, ssh_lab: Any, fresh_board: Any, ssh_connect: Any,
                            big_file: Path) -> None:
    t = ssh_connect(fresh_board)
    rounds = iter(range(1000))

    def put() -> None:
        t.put(big_file, f"~/put-{next(rounds)}.bin")

    benchmark.pedantic(put, rounds=3, iterations=1, warmup_rounds=1)
    put_s = benchmark.stats.stats.median
    scp_s = sorted(_scp(ssh_lab, fresh_board, big_file, f"{fresh_board.home}/scp-{i}.bin")
                   for i in range(3))[1]
    # a whole cold deploy: local hash, remote inspect, upload, remote sha256 verify, rename
    t0 = time.perf_counter()
    rep = deploy_files(t, "python3", "~/deploy", {"artifact.onnx": big_file})
    deploy_s = time.perf_counter() - t0
    assert rep.bytes_sent == SIZE
    t0 = time.perf_counter()
    t2 = ssh_connect(fresh_board)
    t2.put(big_file, "~/with-connect.bin")
    connect_put_s = time.perf_counter() - t0
    benchmark.extra_info.update({
        "size_bytes": SIZE,
        "put_MB_s": SIZE / put_s / 1e6, "scp_MB_s": SIZE / scp_s / 1e6,
        "put_vs_scp_throughput": scp_s / put_s,
        "connect_plus_put_vs_scp": scp_s / connect_put_s,
        "cold_deploy_s": deploy_s, "cold_deploy_vs_scp": scp_s / deploy_s,
    })


def test_warm_redeploy_sends_nothing(benchmark: Any, fresh_board: Any, ssh_connect: Any,
                                     big_file: Path) -> None:
    t = ssh_connect(fresh_board)
    deploy_files(t, "python3", "~/deploy", {"artifact.onnx": big_file})
    reports = []
    benchmark.pedantic(lambda: reports.append(deploy_files(t, "python3", "~/deploy",
                                                           {"artifact.onnx": big_file})), rounds=3,
                       iterations=1)
    assert all(r.bytes_sent == 0 and r.sent == () for r in reports)
    benchmark.extra_info["bytes_sent"] = sum(r.bytes_sent for r in reports)


def test_fleet_scaling(benchmark: Any, ssh_lab: Any, tmp_path: Path) -> None:
    """Boards as sshd on loopback ports."""
    boards = [b for n, b in sorted(ssh_lab.boards.items()) if n.startswith("scale-")]
    boards += [ssh_lab.add_board(f"scale-{i:02d}") for i in range(len(boards), 32)]
    _scaling(benchmark, ssh_lab, boards, tmp_path, "loopback")


def test_fleet_scaling_netns(benchmark: Any, ssh_lab: Any, net_lab: Any, tmp_path: Path) -> None:
    """Boards in their own network namespaces (a veth each on a bridge), as a real fleet's network is."""
    boards = [b for n, b in sorted(ssh_lab.boards.items()) if n.startswith("nsscale-")]
    boards += [net_lab.add_board(f"nsscale-{i:02d}") for i in range(len(boards), 32)]
    _scaling(benchmark, ssh_lab, boards, tmp_path, "netns")


RESULT_LINES = 2000  # an ingest of this many result lines (~0.5 MB) per board


def _scaling(benchmark: Any, ssh_lab: Any, boards: list[Any], tmp: Path, label: str) -> None:
    """wall(n) for n = 1, 8, 32 boards, each running the controller's per-board path around a 2 s job:
    connect, a warm deploy check of the agent zipapp, an agent start (``agent.pyz version``), the job, and
    an ingest (fetch a results file of RESULT_LINES JSON lines and parse it). Reported beside it: the
    controller's CPU per board, the median/max time of each phase per board, and the boards' own sshd CPU
    (on a real fleet it runs on each board; here it shares the controller's cores)."""
    fleet = Fleet(source=Path("lab"), known_hosts=ssh_lab.known_hosts, boards=tuple(
        BoardSpec(name=b.name, host=b.addr, port=b.port, user=b.user, identity_file=str(ssh_lab.client_key))
        for b in boards))
    homes = {b.name: str(b.home) for b in boards}
    opener = ssh_opener(fleet, ssh_config=None, allow_agent=False, timeouts=LAB_TIMEOUTS)
    agent = build_agent(tmp / "agent-cache")
    results = tmp / "results.jsonl"
    results.write_text("".join(json.dumps({"job_key": f"gemm[{i}]/fp32/none", "status": "ok",
                                           "values_s": [1e-3] * 20}) + "\n" for i in range(RESULT_LINES)))

    def prime(b: BoardSpec, t: Any) -> int:  # agent and a results file in place: the deploy check is warm
        deploy_files(t, "python3", f"{homes[b.name]}/bb", {agent.remote_name: agent.path},
                     hashes={agent.remote_name: agent.sha256})
        t.put(results, f"{homes[b.name]}/bb/results.jsonl")
        return 0

    assert fan_out(fleet.boards, prime, connect=opener).ok
    phases: dict[int, dict[str, list[float]]] = {}
    sshd_cpu: dict[int, float] = {}

    def run(n: int) -> tuple[float, float]:
        ph: dict[str, list[float]] = {k: [] for k in ("connect_s", "deploy_check_s", "agent_start_s",
                                                      "exec_beyond_job_s", "ingest_s", "controller_path_s")}
        lock = threading.Lock()

        def timed(key: str, t0: float) -> float:
            now = time.perf_counter()
            with lock:
                ph[key].append(now - t0)
            return now

        def connect(b: BoardSpec) -> Any:
            t0 = time.perf_counter()
            try:
                return opener(b)
            finally:
                timed("connect_s", t0)

        def job(b: BoardSpec, t: Any) -> int:
            home, t0 = homes[b.name], time.perf_counter()
            rep = deploy_files(t, "python3", f"{home}/bb", {agent.remote_name: agent.path},
                               hashes={agent.remote_name: agent.sha256})
            assert rep.bytes_sent == 0
            t1 = timed("deploy_check_s", t0)
            assert t.run(["python3", f"{home}/bb/{agent.remote_name}", "version"]).exit_code == 0
            t2 = timed("agent_start_s", t1)
            code = int(t.run(["sleep", "2"]).exit_code)
            t3 = time.perf_counter()
            with lock:
                ph["exec_beyond_job_s"].append(t3 - t2 - 2.0)
            local = tmp / f"in-{b.name}.jsonl"
            t.get(f"{home}/bb/results.jsonl", local)
            assert len([json.loads(line) for line in local.read_text().splitlines()]) == RESULT_LINES
            timed("ingest_s", t3)
            with lock:
                ph["controller_path_s"].append(time.perf_counter() - t0 - 2.0)
            return code

        sshd0 = _sshd_cpu_s(boards[:n])
        cpu0, t0 = _cpu_s(), time.perf_counter()
        res = fan_out(fleet.boards[:n], job, connect=connect)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        sshd_cpu[n] = _sshd_cpu_s(boards[:n]) - sshd0
        phases[n] = ph
        assert res.ok and set(res.succeeded.values()) == {0}, res
        return wall, cpu

    run(2)  # imports and first-use costs out of the way
    la0 = os.getloadavg()[0]
    measured = {n: run(n) for n in (1, 8)}
    benchmark.pedantic(lambda: measured.__setitem__(32, run(32)), rounds=1, iterations=1)
    info: dict[str, Any] = {
        "boards": label, "cpus": len(os.sched_getaffinity(0)), "loadavg_1m_before": la0,
        "loadavg_1m_after": os.getloadavg()[0],
        **{f"wall_s_{n}": w for n, (w, _) in measured.items()},
        **{f"cpu_s_per_board_{n}": c / n for n, (_, c) in measured.items()},
        "wall_32_over_1": measured[32][0] / measured[1][0],
        **{f"boards_sshd_cpu_s_{n}": sshd_cpu[n] for n in measured},
        # the boards' sshd CPU, spread over the 2 cores, as wall seconds it takes from wall(32) at most
        "sshd_share_of_wall_32_s": sshd_cpu[32] / len(os.sched_getaffinity(0)),
        "phases_s": {n: {k: {"median": sorted(v)[len(v) // 2], "max": max(v)} for k, v in phases[n].items()}
                     for n in measured},
    }
    benchmark.extra_info.update(info)
    out = Path(os.environ.get("BENCHBENCH_PERF_OUT", "perf-results")) / f"fleet_scaling_{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=1))


def _sshd_cpu_s(boards: list[Any]) -> float:
    """CPU seconds of the boards' sshd listeners, with their reaped children (the per-connection sshd and
    the commands they ran): utime + stime + cutime + cstime from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for b in boards:
        if b.proc is None:
            continue
        try:
            fields = Path(f"/proc/{b.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # fields 14-17 of stat(5)
    return total
