"""Device × precision × pruning views of one run: the matrix with speed-ups, the latency/fidelity Pareto
front per board and model, and each kernel's roofline position. Pure: stored job records (and plain peak
numbers) in, rows out; the report formats them.

Speed-ups are ``baseline / variant`` latency (> 1: the variant is faster), against the job of the same board,
model and parameters at fp32 (same pruning) and unpruned (same precision): the median of the paired
per-round ratios when the two were measured interleaved, else the ratio of the medians; each comes with its
verdict from ``paired`` ("faster", "unclear", "not claimed: contended", …).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..results.keys import params_key
from ..results.records import JobRecord
from .paired import paired_verdict

#: per-variant params (artifact names) that must not split a model's group (as in ``quantstudy``)
_VARIANT_PARAMS = ("decode_artifact", "inputs_npz")
DENSE = "none"
REFERENCE_PRECISION = "fp32"
#: llama.cpp's GGUF types are compared with f16, the type their quantizer starts from
GGUF_REFERENCE_PRECISION = "f16"


def reference_precision(j: JobRecord) -> str:
    return GGUF_REFERENCE_PRECISION if j.backend == "llama.cpp" else REFERENCE_PRECISION


@dataclass(frozen=True)
class MatrixRow:
    board: str
    workload: str
    params_key: str
    precision: str
    pruning: str
    backend: str
    p50_s: float | None
    p99_s: float | None
    items_per_s: float | None
    item_unit: str | None
    energy_j: float | None  # per inference
    mem_peak_bytes: float | None
    cosine: float | None  # output cosine vs the fp32 reference
    top1: float | None  # top-1 agreement vs the fp32 reference
    size_bytes: float | None
    speedup_vs_fp32: float | None  # fp32 median / this median, same pruning
    speedup_vs_dense: float | None  # unpruned median / this median, same precision
    #: the paired verdicts behind the two speed-ups (None where there is no baseline)
    claim_vs_fp32: str | None = None
    claim_vs_dense: str | None = None

    #: SQNR (dB) of the worst output vs the reference: what verdicts and the Pareto plot rank by, because a
    #: cosine saturates (a 13 dB and a 40 dB variant can both read 0.99…, and a 1-element output always 1.0)
    sqnr_db: float | None = None

    @property
    def fidelity(self) -> float | None:
        """SQNR (dB, worst output); the dense fp32 job is the reference itself (+inf)."""
        if self.sqnr_db is not None:
            return self.sqnr_db
        return math.inf if (self.precision, self.pruning) == (REFERENCE_PRECISION, DENSE) else None


def group_key(j: JobRecord) -> tuple[str, str, str]:
    # the backend is part of the group: numpy's BLAS fp32 and ONNX Runtime's fp32 are two implementations,
    # not two variants of one model, so neither is the other's reference
    params = {k: v for k, v in j.params.items() if k not in _VARIANT_PARAMS}
    params["backend"] = j.backend
    return j.board, j.workload, params_key(params)


def _speedup(base: JobRecord | None, var: JobRecord) -> tuple[float | None, str | None]:
    if base is None or not base.value("latency.p50") or not var.value("latency.p50"):
        return None, None
    pv = paired_verdict(base, var)
    return pv.ratio, pv.verdict


def build_matrix(jobs: Iterable[JobRecord]) -> list[MatrixRow]:
    """One row per successful job, sorted by board, model, params, precision, pruning."""
    ok = [j for j in jobs if j.status == "ok"]
    by: dict[tuple[str, str, str, str, str], JobRecord] = {}
    for j in ok:
        by[group_key(j) + (j.precision, j.pruning)] = j
    rows = []
    for j in ok:
        g = group_key(j)
        me = j.value("latency.p50")
        ref = reference_precision(j)
        vs_fp32 = _speedup(by.get(g + (ref, j.pruning)), j) if j.precision != ref else (None, None)
        vs_dense = _speedup(by.get(g + (j.precision, DENSE)), j) if j.pruning != DENSE else (None, None)
        items = j.metric("throughput.items")
        rows.append(MatrixRow(
            board=j.board, workload=j.workload, params_key=g[2], precision=j.precision, pruning=j.pruning,
            backend=j.backend, p50_s=me, p99_s=j.value("latency.p99"),
            items_per_s=items.value if items else None, item_unit=items.unit if items else None,
            energy_j=j.value("energy.per_inference"), mem_peak_bytes=j.value("mem.peak_rss"),
            cosine=j.value("fidelity.cosine"), top1=j.value("fidelity.top1_agreement"),
            sqnr_db=j.value("fidelity.sqnr_db"),
            size_bytes=j.value("model.size"),
            speedup_vs_fp32=vs_fp32[0], speedup_vs_dense=vs_dense[0],
            claim_vs_fp32=vs_fp32[1], claim_vs_dense=vs_dense[1]))
    rows.sort(key=lambda r: (r.board, r.workload, r.params_key, r.precision, r.pruning, r.backend))
    return rows


# -- Pareto front ------------------------------------------------------------------------------------------
def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For (latency, fidelity) pairs — lower latency and higher fidelity are better — whether each point
    is Pareto-optimal: no other point is at least as good on both and strictly better on one. Equal
    points are all optimal."""
    out = []
    for i, (lat, fid) in enumerate(points):
        dominated = any(lo <= lat and fo >= fid and (lo < lat or fo > fid)
                        for k, (lo, fo) in enumerate(points) if k != i)
        out.append(not dominated)
    return out


@dataclass(frozen=True)
class ParetoGroup:
    board: str
    workload: str
    params_key: str
    rows: tuple[MatrixRow, ...]  # rows with a latency and a fidelity
    optimal: tuple[bool, ...]  # parallel to rows
    missing: tuple[MatrixRow, ...]  # rows without fidelity: not placed
    has_energy: bool


def pareto_groups(rows: Iterable[MatrixRow]) -> list[ParetoGroup]:
    """Per (board, model, params): the variants placed by latency and fidelity, front marked. Groups with
    fewer than two placeable variants are left out (nothing to trade off)."""
    groups: dict[tuple[str, str, str], list[MatrixRow]] = {}
    for r in rows:
        groups.setdefault((r.board, r.workload, r.params_key), []).append(r)
    out = []
    for (board, workload, pk), members in sorted(groups.items()):
        placed = tuple(r for r in members if r.p50_s and r.fidelity is not None)
        if len(placed) < 2:
            continue
        flags = pareto_front([(r.p50_s or 0.0, r.fidelity or 0.0) for r in placed])
        out.append(ParetoGroup(board, workload, pk, placed, tuple(flags),
                               tuple(r for r in members if r not in placed),
                               any(r.energy_j is not None for r in placed)))
    return out


# -- roofline ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Peaks:
    """A board's roofline peaks from its device profile, in base units."""

    #: profile key → FLOP/s or OP/s; a precision ("fp32") or precision_engine ("fp32_cpu", "int8_npu")
    compute_per_s: Mapping[str, float]
    bandwidth_b_per_s: float | None
    source: str  # where the numbers come from (profile name and its cited sources)


@dataclass(frozen=True)
class RooflinePoint:
    board: str
    workload: str
    params_key: str
    precision: str
    backend: str
    ops_per_s: float | None  # achieved, base units
    ops_unit: str | None  # "FLOP" | "OP"
    bytes_per_s: float | None
    intensity: float | None  # ops per byte moved (work counts), None when either count is missing
    peak_ops_per_s: float | None
    peak_key: str | None  # which profile compute peak was used
    peak_bytes_per_s: float | None
    pct_compute: float | None  # achieved / peak × 100
    pct_bandwidth: float | None
    #: when no percentage can be given: why ("no peak in profile", "no profile recorded", …)
    note: str | None = None

    @property
    def attainable_ops_per_s(self) -> float | None:
        """The roof at this point's intensity: min(peak compute, intensity × peak bandwidth)."""
        if self.intensity is None or self.peak_ops_per_s is None or self.peak_bytes_per_s is None:
            return None
        return min(self.peak_ops_per_s, self.intensity * self.peak_bytes_per_s)


def _pct(v: float | None, peak: float | None) -> float | None:
    return 100.0 * v / peak if v is not None and peak else None


def on_cpu(j: JobRecord) -> bool:
    providers = (j.details.get("extra") or {}).get("providers_used") or []
    return j.backend in ("python", "numpy") or (bool(providers) and providers[0] == "CPUExecutionProvider")


def peak_key(keys: Iterable[str], precision: str, cpu: bool) -> str | None:
    """The profile's compute peak for a job: the bare precision, else ``<precision>_cpu`` for a CPU job or
    the only ``<precision>_<engine>`` that is not the CPU for an accelerator job; None when ambiguous."""
    keys = list(keys)
    if precision in keys:
        return precision
    if cpu:
        return f"{precision}_cpu" if f"{precision}_cpu" in keys else None
    other = [k for k in keys if k.startswith(precision + "_") and k != f"{precision}_cpu"]
    return other[0] if len(other) == 1 else None


def roofline_points(jobs: Iterable[JobRecord], peaks: Mapping[str, Peaks | str]) -> list[RooflinePoint]:
    """Kernels (jobs whose work has an operation or byte count) placed against their board's peaks.

    ``peaks``: board → its :class:`Peaks`, or a sentence saying why there are none for that board."""
    out = []
    for j in jobs:
        if j.status != "ok" or not (j.work.get("ops_per_call") or j.work.get("bytes_per_call")):
            continue
        p50 = j.value("latency.p50")
        if not p50:
            continue
        ops, nbytes = j.work.get("ops_per_call"), j.work.get("bytes_per_call")
        unit = str(j.work.get("ops_unit", "FLOP")) if ops else None
        pk = peaks.get(j.board, "no device profile recorded for this board")
        note: str | None = None
        peak_ops = peak_bw = None
        key = None
        if isinstance(pk, Peaks):
            key = peak_key(pk.compute_per_s, j.precision, on_cpu(j))
            peak_ops = pk.compute_per_s[key] if key else None
            peak_bw = pk.bandwidth_b_per_s
            if ops and peak_ops is None:
                engine = "CPU" if on_cpu(j) else "accelerator"
                note = f"no {j.precision} {engine} compute peak in profile"
            elif nbytes and peak_bw is None:
                note = "no bandwidth peak in profile"
        else:
            note = pk
        ops_s = ops / p50 if ops else None
        bytes_s = nbytes / p50 if nbytes else None
        out.append(RooflinePoint(
            board=j.board, workload=j.workload, params_key=group_key(j)[2], precision=j.precision,
            backend=j.backend, ops_per_s=ops_s, ops_unit=unit, bytes_per_s=bytes_s,
            intensity=ops / nbytes if ops and nbytes else None, peak_ops_per_s=peak_ops, peak_key=key,
            peak_bytes_per_s=peak_bw,
            pct_compute=_pct(ops_s, peak_ops), pct_bandwidth=_pct(bytes_s, peak_bw), note=note))
    out.sort(key=lambda p: (p.board, p.workload, p.params_key, p.precision, p.backend))
    return out
