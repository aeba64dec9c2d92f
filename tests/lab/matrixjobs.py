"""Model-variant and kernel job records with known numbers, for the matrix/Pareto/roofline tests."""

from __future__ import annotations

import math
from dataclasses import replace

from benchbench.results.records import JobRecord, Metric


def job(board: str, precision: str, pruning: str, p50_s: float, *, cos: float | None = None,
        energy_j: float | None = None, workload: str = "resnet18", work: dict[str, object] | None = None,
        backend: str = "onnxruntime", provider: str = "CPUExecutionProvider") -> JobRecord:
    ms = [Metric("latency.p50", p50_s, "s"), Metric("latency.p99", p50_s * 1.2, "s"),
          Metric("throughput.items", 1 / p50_s, "inference/s"), Metric("mem.peak_rss", 100e6, "bytes"),
          Metric("model.size", 40e6 if precision == "fp32" else 10e6, "bytes")]
    if cos is not None:  # SQNR (what ranks variants) rises with the cosine: 0.99 → 20 dB, 0.999 → 30 dB
        ms.append(Metric("fidelity.cosine", cos, "cosine"))
        ms.append(Metric("fidelity.sqnr_db", -10 * math.log10(1 - cos), "dB"))
    if energy_j is not None:
        ms.append(Metric("energy.per_inference", energy_j, "J", "rails_sum"))
    return JobRecord(run_id="r", board=board, job_key=f"{workload}/{precision}/{pruning}", workload=workload,
                     backend=backend, precision=precision, pruning=pruning,
                     params={"batch": 1, "decode_artifact": f"{precision}-{pruning}.onnx"}, status="ok",
                     work=dict(work or {}), details={"extra": {"providers_used": [provider]}},
                     metrics=tuple(ms))


def interleaved(jobs: list[JobRecord], rounds: int = 4, contended: tuple[str, ...] = ()) -> list[JobRecord]:
    """The records as the agent writes them for variants measured interleaved: a shared group per board and
    model, the partners' keys, one raw round per interleaved round (values at the job's p50); the job keys in
    ``contended`` were marked contended."""
    out = []
    for j in jobs:
        group = f"{j.board}/{j.workload}"
        partners = [o.job_key for o in jobs if (o.board, o.workload) == (j.board, j.workload) and o is not j]
        p50 = j.value("latency.p50") or 0.0
        raw = {"latency_rounds": [{"t_start_ns": i, "t_end_ns": i + 1, "values_s": [p50] * 5}
                                  for i in range(rounds)]}
        details = {**j.details, "interleave": {"group": group, "partners": partners},
                   "contention": {"contended": j.job_key in contended}}
        out.append(replace(j, details=details, raw=raw))
    return out


JOBS = [job("pi5", "fp32", "none", 0.010, energy_j=0.05),
        job("pi5", "int8", "none", 0.004, cos=0.99, energy_j=0.02),
        job("pi5", "fp32", "50pct", 0.008, cos=0.995, energy_j=0.04),
        job("pi5", "int8", "50pct", 0.002, cos=0.98, energy_j=0.01),
        job("pi5", "fp16", "none", 0.009, cos=0.99),  # slower than int8 at the same fidelity: dominated
        job("rk3588", "int8", "none", 0.003, cos=0.97)]  # no fp32 on this board: no speed-up vs fp32
JOBS = interleaved(JOBS)
