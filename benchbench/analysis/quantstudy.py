"""What a quantization/pruning study measured, in plain sentences: each variant's median latency against the
dense fp32 job of the same model on the same board. Pure: stored job records in, comparisons and text out.

The verdict is the paired one of ``paired``: the variants were measured interleaved, and a speed-up (or
slow-down) is claimed only when the per-round paired ratios agree; below ``MIN_EFFECT`` it is "no speed-up";
jobs not interleaved with their baseline, or measured under contention, get "not claimed: <why>".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..results.keys import params_key
from ..results.records import JobRecord
from .matrix import reference_precision
from .paired import MIN_EFFECT, paired_verdict

#: per-variant params (artifact names) that must not split a model's group
_VARIANT_PARAMS = ("decode_artifact", "inputs_npz")


@dataclass(frozen=True)
class Comparison:
    board: str
    workload: str
    #: "precision" (dense variants vs fp32) or "pruning" (pruned vs dense, same precision)
    axis: str
    baseline: str  # precision/pruning of the reference job
    variant: str
    baseline_p50_s: float
    variant_p50_s: float
    #: baseline / variant median latency (> 1: the variant is faster)
    speedup: float
    #: "faster", "slower", "no speed-up" (< MIN_EFFECT), "unclear" (the paired rounds disagree) or
    #: "not claimed: <why>" (not interleaved, contended)
    verdict: str
    #: how the verdict was reached (the paired test and its p-value)
    test: str
    fidelity_cosine: float | None
    size_ratio: float | None  # variant size / baseline size
    decode_tps: float | None = None
    baseline_decode_tps: float | None = None
    #: SQNR (dB) of the variant's worst output vs the reference (its name is in the metric detail)
    fidelity_sqnr_db: float | None = None
    #: the variant's graph was transformed beyond the precision change (node count moved >10 %): named,
    #: because part of the latency difference may come from the transform rather than the precision
    transform_note: str | None = None
    #: variant / baseline operations per call (1.0 for unstructured pruning: same shapes, same dense work)
    work_ratio: float | None = None


def _group_key(j: JobRecord) -> tuple[str, str, str]:
    return j.board, j.workload, params_key({k: v for k, v in j.params.items() if k not in _VARIANT_PARAMS})


def _compare(axis: str, base: JobRecord, var: JobRecord) -> Comparison | None:
    b, v = base.value("latency.p50"), var.value("latency.p50")
    if not b or not v:
        return None
    bs, vs = base.value("model.size"), var.value("model.size")
    bw, vw = base.work.get("ops_per_call"), var.work.get("ops_per_call")
    pv = paired_verdict(base, var, MIN_EFFECT)
    return Comparison(board=base.board, workload=base.workload, axis=axis,
                      baseline=f"{base.precision}/{base.pruning}", variant=f"{var.precision}/{var.pruning}",
                      baseline_p50_s=b, variant_p50_s=v, speedup=pv.ratio or b / v, verdict=pv.verdict,
                      test=pv.test,
                      fidelity_cosine=var.value("fidelity.cosine"), size_ratio=vs / bs if bs and vs else None,
                      decode_tps=var.value("llm.decode_tps"),
                      baseline_decode_tps=base.value("llm.decode_tps"),
                      work_ratio=vw / bw if bw and vw else None,
                      fidelity_sqnr_db=var.value("fidelity.sqnr_db"), transform_note=_transform_note(var))


def _transform_note(var: JobRecord) -> str | None:
    steps = [s for steps in ((var.details.get("variant") or {}).get("transforms") or {}).values()
             for s in steps]
    big = [s for s in steps if s.get("nodes_before") and abs(s["nodes_after"] - s["nodes_before"])
           > 0.1 * s["nodes_before"]]
    if not big:
        return None
    named = "; ".join(f"{s['transform']}: {s['nodes_before']} → {s['nodes_after']} nodes" for s in big)
    return (f"its graph was also transformed ({named}), so part of this difference may come from the "
            "transform, not the precision")


def compare_variants(jobs: Iterable[JobRecord]) -> list[Comparison]:
    """Every timed model variant against its model's dense baseline on the same board.

    Precision axis: dense variants vs dense fp32. Pruning axis: pruned vs dense at the same precision.
    Only jobs that carry a model size (i.e. model workloads) take part.
    """
    groups: dict[tuple[str, str, str], list[JobRecord]] = {}
    for j in jobs:
        if j.status == "ok" and j.value("model.size") is not None and j.value("latency.p50"):
            groups.setdefault(_group_key(j), []).append(j)
    out: list[Comparison] = []
    for key in sorted(groups):
        by = {(j.precision, j.pruning): j for j in groups[key]}
        ref = reference_precision(groups[key][0])  # fp32, or f16 for llama.cpp's GGUF types
        fp32 = by.get((ref, "none"))
        for (precision, pruning), j in sorted(by.items()):
            if pruning == "none" and precision != ref and fp32 is not None:
                c = _compare("precision", fp32, j)
            elif pruning != "none" and (precision, "none") in by:
                c = _compare("pruning", by[(precision, "none")], j)
            else:
                continue
            if c is not None:
                out.append(c)
    return out


def _ms(v: float) -> str:
    return f"{v * 1e3:.3g} ms"


def sentence(c: Comparison) -> str:
    ratio = f"{c.speedup:.2f}×"
    if c.verdict == "faster":
        what = f"is {ratio} faster than {c.baseline}"
    elif c.verdict == "slower":
        what = f"is {1 / c.speedup:.2f}× slower than {c.baseline}"
    elif c.verdict == "unclear":
        what = (f"differs from {c.baseline} by {ratio} (median paired ratio), but the interleaved rounds "
                "disagree: not a measured speed-up")
    elif c.verdict.startswith("not claimed"):
        what = f"vs {c.baseline}: {ratio}, {c.verdict}"
    else:
        what = f"gives no speed-up over {c.baseline} ({ratio})"
    text = (f"{c.workload} on {c.board}: {c.variant} {what} "
            f"(median {_ms(c.variant_p50_s)} vs {_ms(c.baseline_p50_s)})")
    facts = []
    if c.decode_tps is not None and c.baseline_decode_tps is not None:
        facts.append(f"decode {c.decode_tps:.4g} vs {c.baseline_decode_tps:.4g} tokens/s")
    if c.size_ratio is not None:
        facts.append(f"size {c.size_ratio:.0%} of {c.baseline}")
    if c.fidelity_sqnr_db is not None:
        facts.append(f"worst-output SQNR vs the reference {c.fidelity_sqnr_db:.1f} dB"
                     + (f" (cosine {c.fidelity_cosine:.3f})" if c.fidelity_cosine is not None else ""))
    if c.transform_note:
        facts.append(c.transform_note)
    if c.axis == "pruning" and c.work_ratio is not None:
        facts.append(f"dense work {c.work_ratio:.0%} of {c.baseline}")
        if c.verdict in ("faster", "slower") and abs(c.work_ratio - 1) < 0.01:
            facts.append("the work is the same, so this difference does not come from pruning: suspect "
                         "machine load between the two jobs and re-run")
    return text + ("; " + "; ".join(facts) if facts else "") + "."


def summary_sentences(comparisons: list[Comparison]) -> list[str]:
    """One headline per (axis, pruning method) across all models, then one sentence per comparison."""
    heads: list[str] = []
    for label, axis, marker in (("int8 vs fp32", "precision", "int8"),
                                ("unstructured pruning vs dense", "pruning", "/unstructured"),
                                ("structured pruning vs dense", "pruning", "/structured")):
        sel = [c for c in comparisons if c.axis == axis and marker in c.variant]
        if not sel:
            continue
        counts = {v: sum(1 for c in sel if c.verdict == v)
                  for v in ("faster", "no speed-up", "slower", "unclear")}
        counts["not claimed"] = sum(1 for c in sel if c.verdict.startswith("not claimed"))
        lo, hi = min(c.speedup for c in sel), max(c.speedup for c in sel)
        if not counts["faster"]:
            lead = f"no measured speed-up in any of {len(sel)} comparisons"
        else:
            lead = f"faster in {counts['faster']} of {len(sel)} comparisons"
        rest = ", ".join(f"{n} {v}" for v, n in counts.items() if n and v != "faster")
        heads.append(f"{label}: {lead}" + (f" ({rest})" if rest and counts["faster"] else "")
                     + f"; latency ratios {lo:.2f}×–{hi:.2f}× (fp32 or dense / variant, median of paired "
                     "interleaved rounds where measured so).")
    return heads + [sentence(c) for c in comparisons]
