"""What the stored record keeps about a model variant, and what one call of it does (its ``Work``), shared by
the model expanders that make variants (ONNX, rknn, PyTorch)."""

from __future__ import annotations

from typing import Any

from .artifacts import ModelArtifact, VariantArtifact
from .plan import Work


def variant_meta(model: ModelArtifact, v: VariantArtifact) -> dict[str, Any]:
    """What the stored record keeps about the variant (details["variant"])."""
    return {"status": v.status, "reason": v.reason, "model": model.name, "model_kind": model.kind,
            "model_sha256": model.sha256, "precision": v.precision, "pruning": v.pruning,
            "target_arch": v.target_arch, "sha256": v.sha256, "size_bytes": v.size_bytes,
            "size_bytes_by_role": v.extra.get("size_bytes_by_role", {}), "flops": v.flops,
            "flops_by_role": v.extra.get("flops_by_role", {}), "recipe": v.recipe,
            "tool_versions": v.tool_versions, "tool": v.extra.get("tool"),
            "pruning_info": v.extra.get("pruning"),
            "validation": v.validation, "primary_role": "main" if "main" in model.files else "prefill",
            "generate_s": v.extra.get("generate_s"), "from_cache": v.from_cache,
            "as_given": model.meta.get("as_given"), "transforms": v.extra.get("transforms"),
            "calibration": v.extra.get("calibration"),
            "input_sources": model.params.get("input_sources") if model.kind == "byo" else None}


def model_work(model: ModelArtifact, v: VariantArtifact) -> Work:
    unit = "OP" if v.precision.startswith("int8") else "FLOP"
    if model.kind == "llm":  # the engine times one decode step
        flops = v.extra.get("flops_by_role", {}).get("decode")
        return Work(ops_per_call=float(flops) if flops else None, ops_unit=unit, item_unit="token")
    flops = v.flops or model.flops
    return Work(ops_per_call=float(flops) if flops else None, ops_unit=unit,
                item_unit="image" if model.kind == "cnn" else "inference")
