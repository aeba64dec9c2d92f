"""Precision × pruning variants of a model, generated on the controller, validated, and cached.

``make_variant(model, precision, pruning, target_arch, cache_dir)`` returns a ``VariantArtifact`` whose
``status`` is ``ok``, ``failed`` (generation or validation failed: store the job as failed, do not time
it) or ``not-applicable`` (the recipe does not apply to this model: a visible row with the reason). The
cache key is sha256(model sha256, the model's input sources — shapes, fixed values, generators, the
``--inputs`` file's content hash, seed —, recipe incl. calibration count, tool versions); a finished entry
(sidecar JSON written last) is returned as is, so a second call regenerates nothing.

Bring-your-own models: the ``fp32`` variant IS the user's file (no transform), ``fp16`` converts the file
as given, and the quantized precisions go through the quantizer's own preparation: an opset upgrade below
13, ``quant_pre_process`` (with graph optimisation for static int8; shape inference only for the MatMul
weight quantizers, which need MatMul rather than fused Gemm), Constant→initializer. Each step is recorded
with node counts and sizes before and after. Reference models keep one pre-processed fp32 base.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import onnx

from ..errors import ConfigError, WorkloadError
from . import applicability, quantize
from . import feeds as feeds_mod
from . import flops as flops_mod
from . import pruning as pruning_mod
from .artifacts import (
    ModelArtifact,
    VariantArtifact,
    files_digest,
    read_sidecar,
    sha256_json,
    tool_versions,
    write_sidecar,
)
from .byo_inputs import identical_samples
from .validation import ValidationFailed, output_names, reference_outputs, validate_role

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8-static", "int8-dynamic", "int4")
NOT_APPLICABLE = "not-applicable"
#: bump when a recipe's code changes meaningfully, so old cache entries are not reused
RECIPE_VERSION = 4


class NotApplicable(Exception):
    """Internal: the recipe does not apply to the graph its tool would see."""


def _as_given(model: ModelArtifact) -> dict[str, Any]:
    return dict(model.meta.get("as_given") or {"precision": "fp32"})


def _inputs_key(model: ModelArtifact) -> dict[str, Any]:
    """Everything about the model's inputs that changes calibration or validation (paths excluded)."""
    return {k: v for k, v in model.params.items() if k not in ("source", "npz", "input_sources")}


def _recipe(model: ModelArtifact, precision: str, pruning: str, target_arch: str, n_cal: int,
            n_val: int) -> dict[str, Any]:
    byo = model.kind == "byo"
    base = ("the model as given" if byo and precision in ("fp32", "fp16")
            else "quant_pre_process(skip_symbolic_shape=True)")
    recipe: dict[str, Any] = {"recipe_version": RECIPE_VERSION, "precision": precision, "pruning": pruning,
                              "baseline": base, "validation_samples": n_val}
    if precision == "int8-static":
        recipe.update(arch_class=quantize.arch_class(target_arch), calibration_samples=n_cal,
                      calibration_seed_offset=feeds_mod.SEED_OFFSETS["calibration"],
                      op_types=["MatMul"] if model.kind == "llm" else None)
    return recipe


def make_variant(model: ModelArtifact, precision: str, pruning: str = "none", target_arch: str = "x86_64",
                 cache_dir: Path | str = ".", n_calibration: int = 32,
                 n_validation: int = 20) -> VariantArtifact:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})",
                          key="precision")
    pruning_mod.parse_spec(pruning)
    recipe = _recipe(model, precision, pruning, target_arch, n_calibration, n_validation)
    versions = tool_versions()
    key = sha256_json({"model": model.sha256, "inputs": _inputs_key(model), "recipe": recipe,
                       "tools": versions})
    folder = Path(cache_dir) / "variants" / f"{model.name}-{precision}-{pruning}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None and all((folder / f).is_file() for f in cached["files"].values()):
        return VariantArtifact.from_json(cached, folder)
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished entry from an interrupted run
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    base = {"model": model.name, "precision": precision, "pruning": pruning, "target_arch": target_arch,
            "recipe": recipe, "tool_versions": versions}
    why = applicability.not_applicable(precision, _as_given(model), None)
    if why:
        return _finish(folder, base, {}, NOT_APPLICABLE, why, {}, {}, t0)
    try:
        files, extra = _generate(model, precision, pruning, target_arch, folder, n_calibration, recipe)
    except NotApplicable as exc:
        return _finish(folder, base, {}, NOT_APPLICABLE, str(exc), {}, {}, t0)
    except (WorkloadError, ValidationFailed) as exc:
        return _finish(folder, base, {}, "failed", f"{precision}/{pruning} generation failed: {exc}", {}, {},
                       t0)
    except Exception as exc:  # boundary: ORT's tools raise anything; the variant is stored as failed
        log.debug("variant generation failed", exc_info=True)
        return _finish(folder, base, {}, "failed", tool_failure(precision, pruning, exc), {}, {}, t0)
    try:
        validation = _validate(model, precision, files, n_validation, extra, pruning)
    except ValidationFailed as exc:
        return _finish(folder, base, files, "failed", f"{precision}/{pruning} failed validation: {exc}", {},
                       extra, t0)
    return _finish(folder, base, files, "ok", None, validation, extra, t0)


def tool_failure(precision: str, pruning: str, exc: BaseException) -> str:
    """A quantizer crash as one line with a remedy (the traceback goes to the debug log)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    if isinstance(exc, KeyError):
        remedy = ("a tensor got no calibration range (not reached by these inputs, or inside control flow): "
                  "give real inputs with --inputs DATA.npz, or try int8-dynamic or fp16")
    elif "rank" in text.lower() or "shape" in text.lower():
        remedy = ("shape inference could not follow the graph: fix the dynamic dims with --shape, or "
                  "quantize it with your own tooling and benchmark the result as given")
    else:
        remedy = "try another precision, or quantize with your own tooling and benchmark the result as given"
    return (f"{precision}/{pruning} generation failed in the quantizer: {type(exc).__name__}: {text} "
            f"— {remedy}")


def _step(transform: str, before: Path, after: Path) -> dict[str, Any]:
    b = onnx.load(str(before), load_external_data=False)
    a = onnx.load(str(after), load_external_data=False)
    return {"transform": transform, "nodes_before": len(b.graph.node), "nodes_after": len(a.graph.node),
            "size_before_bytes": before.stat().st_size, "size_after_bytes": after.stat().st_size}


def _byo_base(src: Path, precision: str, work: Path, role: str, steps: list[dict[str, Any]]) -> Path:
    """The graph a BYO recipe's tool gets: as given for fp32/fp16; opset ≥ 13 + quant_pre_process (+ Constant
    → initializer for the MatMul weight quantizers) for int8/int4."""
    if precision in ("fp32", "fp16"):
        return src
    cur = src
    up = work / f"{role}.opset.onnx"
    info = quantize.upgrade_opset(cur, up)
    if info is not None:
        steps.append(_step(info["transform"], cur, up))
        cur = up
    weight_only = precision in ("int8-dynamic", "int4")
    pre = work / f"{role}.pre.onnx"
    quantize.preprocess(cur, pre, work / "scratch", optimize=not weight_only)
    steps.append(_step("quant_pre_process (" + ("shape inference only" if weight_only else
                                                 "ORT basic optimisation + shape inference") + ")", cur, pre))
    cur = pre
    if weight_only:
        const = work / f"{role}.const.onnx"
        if quantize.constants_to_initializers(cur, const):
            steps.append(_step("Constant nodes → initializers", cur, const))
            cur = const
    return cur


def _generate(model: ModelArtifact, precision: str, pruning: str, target_arch: str, folder: Path, n_cal: int,
              recipe: dict[str, Any]) -> tuple[dict[str, Path], dict[str, Any]]:
    work = folder / ".work"
    work.mkdir()
    extra: dict[str, Any] = {"transforms": {}}
    bases: dict[str, Path] = {}
    for role, src in model.files.items():
        steps: list[dict[str, Any]] = []
        cur = src
        if pruning != "none":
            pruned, info = pruning_mod.prune(onnx.load(str(src)), pruning)
            cur = work / f"{role}.pruned.onnx"
            onnx.save(pruned, str(cur))
            extra.setdefault("pruning", {})[role] = info
            steps.append(_step(f"{pruning} pruning", src, cur))
        if model.kind == "byo":
            bases[role] = _byo_base(cur, precision, work, role, steps)
        else:
            bases[role] = work / f"{role}.fp32.onnx"
            extra["baseline_tool"] = quantize.preprocess(cur, bases[role], work)
            steps.append(_step("quant_pre_process (ORT basic optimisation + shape inference)", cur,
                               bases[role]))
        seen = onnx.load(str(bases[role]), load_external_data=False)
        why = applicability.not_applicable(precision, _as_given(model), seen)
        if why:
            raise NotApplicable(why)
        extra["transforms"][role] = steps
    out: dict[str, Path] = {}
    for role in model.files:
        dst = folder / f"{role}.onnx"
        if precision == "fp32":
            shutil.copyfile(bases[role], dst)
            extra["tool"] = {"tool": "none: the model as given" if model.kind == "byo" and pruning == "none"
                             else "none: the fp32 base"}
        elif precision == "fp16":
            extra["tool"] = quantize.fp16(bases[role], dst)
        elif precision == "int8-static":
            cal = feeds_mod.sample_feeds(model, bases, role, "calibration", n_cal)
            extra["tool"] = quantize.int8_static(bases[role], dst, cal, target_arch, recipe["op_types"])
            extra["calibration"] = {"samples": len(cal), "source": _source(model, "calibration")}
        elif precision == "int8-dynamic":
            extra["tool"] = quantize.int8_dynamic(bases[role], dst)
        else:
            extra["tool"] = quantize.int4(bases[role], dst)
        out[role] = dst
    if model.kind == "byo":
        extra["flops_by_role"] = {"main": model.flops}
    else:
        extra["flops_by_role"] = {r: flops_mod.count(onnx.load(str(p))).flops for r, p in bases.items()}
    shutil.rmtree(work)
    return out, extra


def _source(model: ModelArtifact, purpose: str) -> str:
    if model.kind != "byo":
        return f"seeded synthetic ({purpose} seeds)"
    sources = model.params.get("input_sources") or {}
    return "; ".join(f"{k}: {v}" for k, v in sorted(sources.items())) or "none"


def _validate(model: ModelArtifact, precision: str, files: dict[str, Path], n_val: int,
              extra: dict[str, Any], pruning: str = "none") -> dict[str, Any]:
    validation: dict[str, Any] = {}
    for role, path in files.items():
        ref_feeds = feeds_mod.sample_feeds(model, model.files, role, "validation", n_val)
        ref = reference_outputs(model.files[role], ref_feeds)
        own = feeds_mod.sample_feeds(model, files, role, "validation", n_val)
        info = validate_role(precision, path, ref, own, output_names(model.files[role]),
                             top1="per-token" if model.kind == "llm" else "auto",
                             reshaped_ok=pruning.startswith("structured"))
        info["inputs"] = _source(model, "validation")
        if identical_samples(ref_feeds):
            info["warnings"] = [(f"all {len(ref_feeds)} validation samples are identical: fidelity is "
                                 "measured on one input; give varied real inputs with --inputs DATA.npz")]
        validation[role] = info
    extra["validated_outputs"] = {r: len(v.get("outputs", {})) for r, v in validation.items()}
    return validation


def _finish(folder: Path, base: dict[str, Any], files: dict[str, Path], status: str, reason: str | None,
            validation: dict[str, Any], extra: dict[str, Any], t0: float) -> VariantArtifact:
    if (folder / ".work").exists():
        shutil.rmtree(folder / ".work")
    if status != "ok":
        for p in files.values():
            p.unlink(missing_ok=True)
        files = {}
    sizes = {r: p.stat().st_size for r, p in files.items()}
    primary = "main" if "main" in sizes else "prefill"
    flops_by_role = extra.get("flops_by_role", {})
    extra = dict(extra, size_bytes_by_role=sizes, generate_s=time.perf_counter() - t0)
    variant = VariantArtifact(status=status, reason=reason, files=files, validation=validation,
                              sha256=files_digest(files) if files else "", size_bytes=sizes.get(primary, 0),
                              flops=int(flops_by_role.get(primary, 0)), extra=extra, **base)
    write_sidecar(folder, variant.to_json())
    if status == "failed":
        log.warning("%s", reason)
    elif status == NOT_APPLICABLE:
        log.info("%s/%s not applicable to %s: %s", base["precision"], base["pruning"], base["model"], reason)
    return variant
