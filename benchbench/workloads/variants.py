"""Precision × pruning variants of a model, generated on the controller, validated, and cached.

``make_variant(model, precision, pruning, target_arch, cache_dir)`` returns a ``VariantArtifact``.
The cache key is sha256(model sha256, recipe, tool versions); a finished entry (sidecar JSON written
last) is returned as is, so a second call regenerates nothing. A variant whose generation or validation
fails is cached too, with ``status="failed"`` and a one-line ``reason``: store the job as failed, do not
time it. A precision that cannot apply to a model raises ConfigError before anything is built.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import onnx

from ..errors import ConfigError, WorkloadError
from . import feeds as feeds_mod
from . import flops as flops_mod
from . import pruning as pruning_mod
from . import quantize
from .artifacts import (ModelArtifact, VariantArtifact, files_digest, read_sidecar, sha256_json, tool_versions,
                        write_sidecar)
from .validation import ValidationFailed, reference_outputs, validate_role

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8-static", "int8-dynamic", "int4")
#: bump when a recipe's code changes meaningfully, so old cache entries are not reused
RECIPE_VERSION = 1


def check_applicable(model: ModelArtifact, precision: str) -> str | None:
    """Why ``precision`` does not apply to ``model`` (None when it does)."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})"
    if precision not in ("int8-dynamic", "int4"):
        return None
    graph = onnx.load(str(model.path), load_external_data=False)
    ops = {n.op_type for n in graph.graph.node}
    if precision == "int8-dynamic" and ops & {"Conv", "ConvTranspose"}:
        return ("int8-dynamic does not apply to conv nets: ONNX Runtime's ConvInteger is several times slower "
                "than fp32 here; use int8-static")
    if quantize.weight_matmuls(graph) == 0:
        what = "MatMulNBits" if precision == "int4" else "dynamic int8"
        return f"{precision} does not apply to {model.name}: {what} quantizes MatMul weights and it has none"
    return None


def _recipe(model: ModelArtifact, precision: str, pruning: str, target_arch: str, n_cal: int,
            n_val: int) -> dict[str, Any]:
    recipe: dict[str, Any] = {"recipe_version": RECIPE_VERSION, "precision": precision, "pruning": pruning,
                              "baseline": "quant_pre_process(skip_symbolic_shape=True)", "validation_samples": n_val}
    if precision == "int8-static":
        recipe.update(arch_class=quantize.arch_class(target_arch), calibration_samples=n_cal,
                      calibration_seed_offset=feeds_mod.SEED_OFFSETS["calibration"],
                      op_types=["MatMul"] if model.kind == "llm" else None)
    return recipe


def make_variant(model: ModelArtifact, precision: str, pruning: str = "none", target_arch: str = "x86_64",
                 cache_dir: Path | str = ".", n_calibration: int = 32, n_validation: int = 20) -> VariantArtifact:
    reason = check_applicable(model, precision)
    if reason:
        raise ConfigError(reason, key="precision")
    pruning_mod.parse_spec(pruning)
    recipe = _recipe(model, precision, pruning, target_arch, n_calibration, n_validation)
    versions = tool_versions()
    key = sha256_json({"model": model.sha256, "recipe": recipe, "tools": versions})
    folder = Path(cache_dir) / "variants" / f"{model.name}-{precision}-{pruning}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None and all((folder / f).is_file() for f in cached["files"].values()):
        return VariantArtifact.from_json(cached, folder)
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished entry from an interrupted run
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    base = dict(model=model.name, precision=precision, pruning=pruning, target_arch=target_arch,
                recipe=recipe, tool_versions=versions)
    try:
        files, extra = _generate(model, precision, pruning, target_arch, folder, n_calibration, recipe)
    except (WorkloadError, ValidationFailed) as exc:
        return _finish(folder, base, {}, "failed", f"{precision}/{pruning} generation failed: {exc}", {}, {}, t0)
    except Exception as exc:  # boundary: ORT's tools raise anything; the variant is stored as failed
        log.exception("variant generation failed")
        return _finish(folder, base, {}, "failed",
                       f"{precision}/{pruning} generation failed: {type(exc).__name__}: {str(exc)[:300]}", {}, {}, t0)
    validation: dict[str, Any] = {}
    status, why = "ok", None
    try:
        for role in files:
            ref = reference_outputs(model.files[role],
                                    feeds_mod.sample_feeds(model, model.files, role, "validation", n_validation))
            own = feeds_mod.sample_feeds(model, files, role, "validation", n_validation)
            validation[role] = validate_role(precision, files[role], ref, own)
    except ValidationFailed as exc:
        status, why = "failed", f"{precision}/{pruning} failed validation: {exc}"
    return _finish(folder, base, files, status, why, validation, extra, t0)


def _generate(model: ModelArtifact, precision: str, pruning: str, target_arch: str, folder: Path, n_cal: int,
              recipe: dict[str, Any]) -> tuple[dict[str, Path], dict[str, Any]]:
    work = folder / ".work"
    work.mkdir()
    extra: dict[str, Any] = {}
    fp32: dict[str, Path] = {}
    for role, src in model.files.items():
        pruned_path = src
        if pruning != "none":
            pruned, info = pruning_mod.prune(onnx.load(str(src)), pruning)
            pruned_path = work / f"{role}.pruned.onnx"
            onnx.save(pruned, str(pruned_path))
            extra.setdefault("pruning", {})[role] = info
        fp32[role] = work / f"{role}.fp32.onnx"
        recipe_step = quantize.preprocess(pruned_path, fp32[role], work)
        extra["baseline_tool"] = recipe_step
    out: dict[str, Path] = {}
    for role in model.files:
        dst = folder / f"{role}.onnx"
        if precision == "fp32":
            shutil.copyfile(fp32[role], dst)
        elif precision == "fp16":
            extra["tool"] = quantize.fp16(fp32[role], dst)
        elif precision == "int8-static":
            cal = feeds_mod.sample_feeds(model, fp32, role, "calibration", n_cal)
            extra["tool"] = quantize.int8_static(fp32[role], dst, cal, target_arch, recipe["op_types"])
        elif precision == "int8-dynamic":
            extra["tool"] = quantize.int8_dynamic(fp32[role], dst)
        else:
            extra["tool"] = quantize.int4(fp32[role], dst)
        out[role] = dst
    extra["flops_by_role"] = {r: flops_mod.count(onnx.load(str(p))).flops for r, p in fp32.items()}
    shutil.rmtree(work)
    return out, extra


def _finish(folder: Path, base: dict[str, Any], files: dict[str, Path], status: str, reason: str | None,
            validation: dict[str, Any], extra: dict[str, Any], t0: float) -> VariantArtifact:
    if (folder / ".work").exists():
        shutil.rmtree(folder / ".work")
    sizes = {r: p.stat().st_size for r, p in files.items()}
    primary = "main" if "main" in sizes else "prefill"
    flops_by_role = extra.get("flops_by_role", {})
    extra = dict(extra, size_bytes_by_role=sizes, generate_s=time.perf_counter() - t0)
    variant = VariantArtifact(status=status, reason=reason, files=files, validation=validation,
                              sha256=files_digest(files) if files else "", size_bytes=sizes.get(primary, 0),
                              flops=int(flops_by_role.get(primary, 0)), extra=extra, **base)
    write_sidecar(folder, variant.to_json())
    if status != "ok":
        log.warning("%s", reason)
    return variant
