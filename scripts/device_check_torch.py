#!/usr/bin/env python3
"""NVIDIA GPU check for the torch backend (not run in CI): ResNet-18 at fp32/fp16/bf16 and a GEMM through
``benchbench run`` on the local board with ``device: cuda``, energy from NVML where the board exposes it.

    python scripts/device_check_torch.py [--db torch-gpu.db]

Exits 0 with a message (nothing run) when torch or a CUDA device is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = """\
name: torch-gpu-check
timing: {warmup_s: 0.5, min_value_s: 0.01, rounds: 3, values_per_round: 10, max_timed_s: 10}
sampling: {interval_s: 0.02, families: [cpufreq, thermal, memory, nvml], measure_overhead: false}
jobs:
  - workload: resnet18
    backend: torch
    precisions: [fp32, fp16, bf16]
    params: {device: cuda}
  - workload: resnet18
    backend: torch
    precisions: [fp32]
    params: {device: cpu}
  - workload: gemm
    precisions: [fp32]
    params: {m: 2048, k: 2048, n: 2048}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="torch-gpu-check.db")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to check (pip install 'benchbench[torch]' with a CUDA build)")
        return 0
    if not torch.cuda.is_available():
        print(f"torch {torch.__version__} sees no CUDA device: nothing to check on this machine")
        return 0
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    a = torch.randn(4096, 4096, device="cuda")
    for dtype in (torch.float32, torch.float16, torch.bfloat16):  # a raw GEMM sanity number per dtype
        x = a.to(dtype)
        x @ x
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(10):
            x @ x
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / 10
        print(f"  torch GEMM 4096³ {dtype!s:15s} {ms:7.3f} ms  {2 * 4096 ** 3 / ms / 1e9:8.1f} TFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "torch-gpu.yaml"
        suite.write_text(SUITE)
        res = subprocess.run([sys.executable, "-m", "benchbench", "run", "--suite", str(suite),
                              "--db", args.db, "--json", "--no-report"],
                             capture_output=True, text=True, check=False)
    if res.returncode not in (0, 1):
        print(res.stderr[-2000:])
        return res.returncode
    run_id = json.loads(res.stdout)["run_id"]
    from benchbench.results.store import Store

    for job in Store(args.db).load_run(run_id).jobs:
        p50 = job.value("latency.p50")
        energy = job.metric("energy.per_inference")
        ev = (job.details.get("extra") or {}).get("cuda_event_s") or {}
        e_txt = (f"{energy.value * 1e3:.2f} mJ/inf ({energy.scope})" if energy and energy.value is not None
                 else f"energy unavailable: {energy.unavailable_reason if energy else 'no metric'}")
        print(f"  {job.workload:9s} {job.backend:11s} {job.precision:5s} {job.status:11s} "
              f"p50 {p50 * 1e3 if p50 else float('nan'):8.3f} ms  cuda-event p50 "
              f"{(ev.get('p50') or float('nan')) * 1e3:8.3f} ms  {e_txt}  {job.reason or ''}")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
