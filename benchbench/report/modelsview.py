"""The report's "Models and recipes" view: the model file as given, and for every variant what was done
to it (transforms with node counts and sizes, quantizer settings, calibration and validation inputs, outputs
validated and the worst one) — read from the variant facts stored with each job, nothing else."""

from __future__ import annotations

import math
from typing import Any

from ..results.records import JobRecord, RunData
from .viewmodel import fmt_bytes


def _transforms(variant: dict[str, Any]) -> list[str]:
    out = []
    for role, steps in sorted((variant.get("transforms") or {}).items()):
        for s in steps:
            prefix = f"{role}: " if role != "main" else ""
            out.append(f"{prefix}{s['transform']} (nodes {s['nodes_before']} → {s['nodes_after']}, "
                       f"{fmt_bytes(s['size_before_bytes'])} → {fmt_bytes(s['size_after_bytes'])})")
    return out


def _tool(variant: dict[str, Any]) -> str:
    tool = variant.get("tool")
    if not isinstance(tool, dict):
        return str(tool or "–")
    name = str(tool.get("tool", "–"))
    rest = ", ".join(f"{k}={v}" for k, v in sorted(tool.items()) if k != "tool")
    return name + (f" ({rest})" if rest else "")


def _validation(variant: dict[str, Any]) -> tuple[str, list[str]]:
    role = variant.get("primary_role", "main")
    val = (variant.get("validation") or {}).get(role) or {}
    fid = val.get("fidelity") or {}
    if not fid:
        return "–", list(val.get("warnings") or [])
    sqnr = fid.get("sqnr_db")
    sqnr_text = ("∞" if isinstance(sqnr, float) and math.isinf(sqnr)
                 else f"{sqnr:.1f}" if sqnr is not None else "?")
    text = (f"{fid.get('outputs_validated', 1)} output(s) on {fid.get('samples')} samples; worst "
            f"{fid.get('output')!r}: SQNR {sqnr_text} dB")
    if fid.get("rel_error") is not None:
        text += f", relative error {fid['rel_error']:.3g}"
    if fid.get("cosine_mean") is not None:
        text += f", cosine {fid['cosine_mean']:.4f}"
    else:
        text += f", cosine n/a ({fid.get('elements')} element(s) per sample)"
    return text, list(val.get("warnings") or [])


def models_view(run: RunData) -> list[dict[str, Any]]:
    """One entry per model (by content) with its as-given facts and one row per variant job."""
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for j in sorted(run.jobs, key=lambda j: (j.board, j.workload, j.precision, j.pruning)):
        v = j.details.get("variant")
        if not isinstance(v, dict) or not v.get("model"):
            continue
        key = (str(v.get("model")), str(v.get("model_sha256", "")))
        entry = models.setdefault(key, _model_entry(v))
        entry["variants"].append(_variant_row(j, v))
    return list(models.values())


def _model_entry(v: dict[str, Any]) -> dict[str, Any]:
    given = v.get("as_given") or {}
    if given:
        head = (f"{given.get('file', v.get('model'))} (sha256 {str(given.get('sha256', ''))[:12]}…, "
                f"{given.get('nodes')} nodes in the main graph, {given.get('nodes_total')} in all, "
                f"{fmt_bytes(given.get('size_bytes'))}, opset {given.get('opset')}, "
                f"computes in {given.get('precision')})")
        if given.get("transforms"):
            head += "; before running: " + "; ".join(given["transforms"])
    else:
        head = f"{v.get('model')} — reference model built in code ({v.get('model_kind')}), sha256 " \
               f"{str(v.get('model_sha256', ''))[:12]}…"
    sources = v.get("input_sources") or {}
    inputs = "; ".join(f"{k}: {s}" for k, s in sorted(sources.items())) if sources else \
        "seeded synthetic inputs (structured images / Zipf token streams)"
    return {"name": v.get("model"), "as_given": head, "inputs": inputs, "variants": []}


def _variant_row(j: JobRecord, v: dict[str, Any]) -> dict[str, Any]:
    cal = v.get("calibration") or {}
    val_text, warnings = _validation(v)
    as_given = bool(v.get("as_given")) and v.get("precision") == "fp32" and v.get("pruning") == "none"
    return {"board": j.board, "variant": f"{j.precision}" + (f" · {j.pruning}" if j.pruning != "none" else "")
            + (" (as given)" if as_given else ""), "status": j.status,
            "reason": j.reason or v.get("reason") or "",
            "transforms": _transforms(v) or (["none: the file as given"] if as_given else ["–"]),
            "tool": _tool(v),
            "calibration": f"{cal.get('samples')} samples: {cal.get('source')}" if cal else "–",
            "validation": val_text, "warnings": warnings,
            "size": fmt_bytes(v.get("size_bytes")) if v.get("size_bytes") else "–"}
