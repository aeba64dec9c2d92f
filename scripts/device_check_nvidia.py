#!/usr/bin/env python3
"""Device check for a machine with an NVIDIA GPU (issue #10 item 6). Never run in CI.

    pip install -e ".[gpu]" torch pytest-benchmark && python scripts/device_check_nvidia.py

1. NVML probe through the agent's sampler: channels, measured update period and read cost, enforced limit.
2. The energy counter against an independent integral of nvmlDeviceGetPowerUsage over a loaded window
   (a torch GEMM loop when torch is installed): agree within 2 %.
3. A torch GEMM pytest-benchmark job run by ``benchbench run --profile nvidia-gpu``: its energy per
   inference (steady-state phase) within 10 % of NVML power × latency measured here, and its power.peak
   under the enforced limit (and not flagged implausible).

Prints the numbers; exits 0 when every check passes, 1 when one fails, 2 when there is no NVIDIA GPU.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

GEMM_N = 8192
BENCH_FILE = f'''\
import torch


def test_gemm_bf16(benchmark):
    a = torch.randn({GEMM_N}, {GEMM_N}, device="cuda", dtype=torch.bfloat16)
    b = torch.randn({GEMM_N}, {GEMM_N}, device="cuda", dtype=torch.bfloat16)

    def step():
        torch.matmul(a, b)
        torch.cuda.synchronize()

    benchmark(step)
'''
SUITE = """\
name: nvidia-device-check
timing: {warmup_s: 0.5, min_value_s: 0.01, rounds: 5, values_per_round: 10, max_timed_s: 20}
sampling: {interval_s: 0.01, measure_overhead: false}
jobs:
  - workload: pytest-benchmark
    params: {file: bench_gemm.py}
"""


def fail(msg: str) -> None:
    print(f"FAIL: {msg}")


def nvml() -> Any:
    try:
        import pynvml
    except ImportError:
        print("no NVIDIA GPU check possible: nvidia-ml-py (pynvml) is not installed (pip install -e .[gpu])")
        sys.exit(2)
    try:
        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() < 1:
            raise RuntimeError("NVML lists no GPU")
    except (pynvml.NVMLError, RuntimeError) as exc:
        print(f"no NVIDIA GPU: {exc}")
        sys.exit(2)
    return pynvml


def gemm_loop(seconds: float) -> tuple[threading.Thread, list[float]] | None:
    """A background bf16 GEMM loop (torch), recording per-call latency; None without torch/CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    lat: list[float] = []

    def run() -> None:
        a = torch.randn(GEMM_N, GEMM_N, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(GEMM_N, GEMM_N, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            torch.matmul(a, b)
            torch.cuda.synchronize()
            lat.append(time.perf_counter() - t0)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, lat


def counter_vs_power(pynvml: Any, h: Any,
                     seconds: float = 10.0) -> tuple[float, float, list[float], list[float]]:
    """(counter J, integral J, power samples W, GEMM latencies s) over a window under load."""
    load = gemm_loop(seconds + 2.0)
    time.sleep(1.0)  # into the steady part of the loop
    e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3
    t_prev, p_prev = time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(h) / 1e3
    integral, samples = 0.0, [p_prev]
    end = t_prev + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
        t, p = time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(h) / 1e3
        integral += (p + p_prev) / 2 * (t - t_prev)
        t_prev, p_prev = t, p
        samples.append(p)
    e1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3
    lat: list[float] = []
    if load is not None:
        load[0].join()
        lat = load[1]
    return e1 - e0, integral, samples, lat


def run_job(tmp: Path) -> dict[str, Any]:
    (tmp / "bench_gemm.py").write_text(BENCH_FILE)
    (tmp / "suite.yaml").write_text(SUITE)
    db = tmp / "check.db"
    proc = subprocess.run([sys.executable, "-m", "benchbench", "run", "--suite", str(tmp / "suite.yaml"),
                           "--profile", "nvidia-gpu", "--db", str(db), "--no-report", "--json"],
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-3000:])
        raise RuntimeError(f"benchbench run exited {proc.returncode}")
    from benchbench.results.store import Store
    run_id = json.loads(proc.stdout)["run_id"]
    run = Store(str(db)).load_run(run_id)
    job = run.jobs[0]
    return {"metrics": {m.name: m for m in job.metrics},
            "warnings": [w.code + ": " + w.message for w in job.warnings],
            "snapshot": run.boards[0].snapshot}


def main() -> int:
    pynvml = nvml()
    from benchbench.agent.samplers import cadence, probe_all
    ok = True
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    name = pynvml.nvmlDeviceGetName(h)
    limit_w = pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1e3
    gpu = name.decode() if isinstance(name, bytes) else name
    print(f"GPU 0: {gpu}, enforced power limit {limit_w:.0f} W")

    plans, missing = probe_all(["nvml"])
    cadence.measure(plans)
    for ch in (c for p in plans for c in p.channels):
        period = f"{ch.update_period_s * 1e3:.1f} ms" if ch.update_period_s else "no change seen"
        print(f"  channel {ch.name:28s} {ch.quantity:12s} update {period:>16s}  "
              f"read {ch.read_cost_s * 1e6:.1f} µs"
              + (f"  limit {ch.limit_w:.0f} W" if ch.limit_w else ""))
    for u in missing:
        print(f"  unavailable: {u.reason}")
    if not any(c.quantity == "energy" for p in plans for c in p.channels):
        fail("NVML has no energy counter on this GPU")
        ok = False

    counter_j, integral_j, power_w, lat = counter_vs_power(pynvml, h)
    err = counter_j / integral_j - 1 if integral_j else float("inf")
    print(f"counter {counter_j:.1f} J vs power integral {integral_j:.1f} J over 10 s: {err:+.2%} "
          f"(mean {statistics.mean(power_w):.0f} W, {'GEMM load' if lat else 'no torch: idle'})")
    if abs(err) > 0.02:
        fail("energy counter and power integral differ by more than 2 %")
        ok = False
    if not lat:
        print("torch with CUDA is not installed: the pytest-benchmark GEMM job is skipped")
        return 0 if ok else 1

    truth_j = statistics.mean(power_w) * statistics.median(lat)
    print(f"NVML power x latency: {statistics.mean(power_w):.0f} W x {statistics.median(lat) * 1e3:.3f} ms "
          f"= {truth_j:.3f} J per GEMM")
    with tempfile.TemporaryDirectory(prefix="bb-nvcheck-") as tmp:
        job = run_job(Path(tmp))
    m = job["metrics"]
    for key in ("latency.p50", "energy.per_inference", "energy.per_inference_above_idle", "power.mean",
                "power.peak"):
        if key in m:
            v = m[key]
            print(f"  {key:34s} {v.value if v.value is not None else 'n/a'} {v.unit}  "
                  f"{v.unavailable_reason or v.detail or ''}"[:220])
    print(f"  profile: {job['snapshot'].get('profile')} ({job['snapshot'].get('profile_reason')})")
    for w in job["warnings"]:
        print(f"  warning {w}"[:220])
    epi = m.get("energy.per_inference")
    if epi is None or epi.value is None:
        fail("no energy per inference stored")
        ok = False
    elif abs(epi.value / truth_j - 1) > 0.10:
        fail(f"energy per inference {epi.value:.3f} J is not within 10 % of {truth_j:.3f} J")
        ok = False
    peak = m.get("power.peak")
    if peak is None or peak.value is None:
        fail(f"no power.peak ({peak.unavailable_reason if peak else 'missing'})")
        ok = False
    elif peak.value > limit_w:
        fail(f"power.peak {peak.value:.0f} W is above the {limit_w:.0f} W enforced limit")
        ok = False
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
