"""Precision × pruning variants of the torch reference models, made with PyTorch's own tools on the
controller.

* ``fp32`` / ``fp16`` / ``bf16``: ``module.to(dtype)`` behind fp32 inputs and outputs (as ONNX's
  keep_io_types), saved as an ExportedProgram (``torch.export``, ``.pt2``). Whether the board's CPU has native
  fp16/bf16 is decided on the board (the agent backend says ``unsupported`` when it would only emulate).
* ``int8-dynamic``: ``torch.ao.quantization.quantize_dynamic`` on Linear/LSTM (the users' own code); saved as
  TorchScript (packed int8 weights do not export). Convs stay fp32: on a CNN only the classifier is int8.
* ``int8-static``: torch 2.13 no longer ships PT2E (``prepare_pt2e`` moved to torchao); the static int8 flow
  inside torch is FX graph mode (``prepare_fx`` / ``convert_fx``) with the ``x86`` (fbgemm) engine on x86 and
  ``qnnpack`` on ARM, calibrated on seeded inputs: real int8 kernels, saved as TorchScript. Where it does not
  apply the variant is ``unsupported`` with the reason.
* pruning ``unstructured-N`` (``prune.l1_unstructured``) and ``structured-N`` (``prune.ln_structured``, output
  channels, L2) on every Conv2d/Linear weight, made permanent with ``prune.remove`` and the sparsity verified.
  Zeros are stored densely, so dense kernels do the same work: no speed-up is expected without sparse kernels.

Each variant is validated per output against the fp32 dense torch model on held-out seeded inputs, and the
fp32 variant also against the ONNX reference. Cached by content (model sha256, recipe, torch version) like
``variants.py``; the sidecar is written last.
"""

from __future__ import annotations

import copy
import logging
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import feeds as feeds_mod
from . import torch_models
from .artifacts import ModelArtifact, VariantArtifact, files_digest, read_sidecar, sha256_json, write_sidecar
from .pruning import parse_spec
from .validation import fidelity

log = logging.getLogger(__name__)

TORCH_PRECISIONS = ("fp32", "fp16", "bf16", "int8-dynamic", "int8-static")
RECIPE_VERSION = 1
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
NO_SPEEDUP = ("zeros are stored densely: dense kernels do the same work, so no speed-up is expected without "
              "sparse kernels")
Inputs = list[tuple[torch.Tensor, ...]]


class NotApplicable(Exception):
    """The precision or pruning does not apply to this model (stored as ``unsupported`` with the reason)."""


class CastIO(nn.Module):
    """Runs ``inner`` in ``dtype`` behind fp32 inputs and outputs (integer inputs pass unchanged)."""

    def __init__(self, inner: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner, self.dtype = inner.to(dtype), dtype

    def forward(self, *args: torch.Tensor) -> Any:
        out = self.inner(*[a.to(self.dtype) if a.is_floating_point() else a for a in args])
        if isinstance(out, tuple):
            return tuple(o.float() for o in out)
        return out.float()


def quant_engine(target_arch: str) -> str:
    return "qnnpack" if target_arch.lower() in ("aarch64", "arm64", "armv8", "armv7l") else "x86"


def sample_inputs(model: ModelArtifact, ref: dict[str, nn.Module], role: str, purpose: str, n: int) -> Inputs:
    """Seeded inputs per role as positional tensors; decode feeds come from the fp32 prefill's cache."""
    if model.kind == "llm" and role == "decode":
        out: Inputs = []
        rng = np.random.default_rng(int(model.params.get("seed", 0)) + feeds_mod.SEED_OFFSETS[purpose])
        for (ids,) in sample_inputs(model, ref, "prefill", purpose, n):
            with torch.inference_mode():
                _, cache = ref["prefill"](ids)
            pos = int(rng.integers(ids.shape[1] // 2, ids.shape[1]))
            cache = cache.clone()
            cache[:, :, :, :, pos:, :] = 0.0
            out.append((ids[:, pos:pos + 1].clone(), torch.tensor([pos], dtype=torch.int64), cache))
        return out
    return [tuple(torch.from_numpy(v) for v in f.values())
            for f in feeds_mod.sample_feeds(model, model.files, role, purpose, n)]


def _outputs(mod: Callable[..., Any], inputs: Inputs) -> list[list[np.ndarray]]:
    """Per input, the list of outputs as fp32 numpy arrays."""
    res = []
    with torch.inference_mode():
        for args in inputs:
            out = mod(*args)
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            res.append([o.float().numpy() for o in outs])
    return res


def _weights(mods: dict[str, nn.Module]) -> list[tuple[str, nn.Module]]:
    seen: set[int] = set()
    out: list[tuple[str, nn.Module]] = []
    for mod in mods.values():
        for name, m in mod.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in seen:
                seen.add(id(m))
                out.append((name, m))
    return out


def prune_modules(mods: dict[str, nn.Module], spec: str) -> dict[str, Any]:
    """Prune every Conv2d/Linear weight in place, made permanent; returns the verified sparsity."""
    method, amount = parse_spec(spec)
    if method == "none":
        return {}
    from torch.nn.utils import prune

    zeros = total = zero_rows = rows = 0
    for _, m in _weights(mods):
        if method == "unstructured":
            prune.l1_unstructured(m, name="weight", amount=amount)  # type: ignore[no-untyped-call]
        else:
            prune.ln_structured(m, name="weight", amount=amount, n=2, dim=0)  # type: ignore[no-untyped-call]
        prune.remove(m, "weight")  # type: ignore[no-untyped-call]
        w = m.weight.detach()  # type: ignore[operator]
        zeros += int((w == 0).sum())
        total += w.numel()
        zero_rows += int((w.reshape(w.shape[0], -1).abs().sum(dim=1) == 0).sum())
        rows += w.shape[0]
    sparsity, channels = zeros / total, zero_rows / rows
    achieved = sparsity if method == "unstructured" else channels
    if achieved < amount - 0.02:
        raise ValueError(f"{spec}: only {achieved:.1%} "
                         f"{'weights' if method == 'unstructured' else 'channels'} are zero after pruning")
    note = NO_SPEEDUP if method == "unstructured" else (
        "output channels are zeroed, not removed (tensor shapes unchanged): " + NO_SPEEDUP)
    prune_call = "l1_unstructured" if method == "unstructured" else "ln_structured(n=2, dim=0)"
    return {"method": method, "amount": amount, "tool": f"torch.nn.utils.prune.{prune_call} + prune.remove",
            "weight_sparsity": sparsity, "zero_channel_fraction": channels,
            "weights_pruned": len(_weights(mods)), "note": note}


def check_applicable(model: ModelArtifact, precision: str) -> str | None:
    if precision not in TORCH_PRECISIONS:
        return f"unknown torch precision {precision!r} (known: {', '.join(TORCH_PRECISIONS)})"
    if precision == "int8-dynamic":
        mods = torch_models.build_modules(model)
        if not any(isinstance(m, (nn.Linear, nn.LSTM)) for mod in mods.values() for m in mod.modules()):
            return (f"int8-dynamic does not apply to {model.name}: quantize_dynamic targets Linear/LSTM "
                    "and it has none")
    return None


def _static_int8(mod: nn.Module, role: str, model: ModelArtifact, cal: Inputs, engine: str) -> nn.Module:
    from torch.ao.quantization import QConfigMapping, get_default_qconfig, get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if engine not in torch.backends.quantized.supported_engines:
        raise NotApplicable(f"int8-static: this torch has no {engine} quantized engine")
    torch.backends.quantized.engine = engine
    # the decoder's attention matmuls, norms and softmax stay fp32 (as ONNX static int8 on MatMul weights)
    qconfig = get_default_qconfig(engine)  # type: ignore[no-untyped-call]
    mapping = (QConfigMapping().set_object_type(nn.Linear, qconfig) if model.kind == "llm"
               else get_default_qconfig_mapping(engine))
    try:
        prepared = prepare_fx(copy.deepcopy(mod), mapping, cal[0])
        with torch.inference_mode():
            for args in cal:
                prepared(*args)
        return convert_fx(prepared)
    except Exception as exc:  # noqa: BLE001  FX tracing/quantization boundary: the model does not fit the flow
        raise NotApplicable(f"int8-static (FX graph mode, {engine}) does not apply to {model.name}/{role}: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None


def _save(mod: nn.Module, example: tuple[torch.Tensor, ...], dst_stem: Path, scripted: bool) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit / torch.ao deprecation notices
        if scripted:
            path = dst_stem.with_suffix(".pt")
            with torch.inference_mode(False), torch.no_grad():
                torch.jit.save(torch.jit.trace(mod, example, check_trace=False),  # type: ignore[no-untyped-call]
                               str(path))
            return path
        path = dst_stem.with_suffix(".pt2")
        torch.export.save(torch.export.export(mod, example), str(path))
        return path


def load_artifact(path: Path) -> Callable[..., Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.suffix == ".pt2":
            module: Callable[..., Any] = torch.export.load(str(path)).module()
            return module
        loaded: Callable[..., Any] = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        return loaded


def make_torch_variant(model: ModelArtifact, precision: str, pruning: str, target_arch: str, cache_dir: Path,
                       n_calibration: int = 16, n_validation: int = 8) -> VariantArtifact:
    """Make, validate and cache one variant; an inapplicable precision gives ``status="unsupported"``."""
    engine = quant_engine(target_arch)
    recipe = {"recipe_version": RECIPE_VERSION, "precision": precision, "pruning": pruning,
              "validation_samples": n_validation, "weights_from": "ONNX reference initializers"}
    if precision == "int8-static":
        recipe.update(flow="FX graph mode (prepare_fx/convert_fx)", engine=engine,
                      calibration_samples=n_calibration)
    versions = {"torch": torch.__version__}
    key = sha256_json({"model": model.sha256, "recipe": recipe, "tools": versions})
    folder = Path(cache_dir) / "torch-variants" / f"{model.name}-{precision}-{pruning}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None and all((folder / f).is_file() for f in cached["files"].values()):
        return VariantArtifact.from_json(cached, folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    base: dict[str, Any] = {"model": model.name, "precision": precision, "pruning": pruning,
                            "target_arch": target_arch, "recipe": recipe, "tool_versions": versions}
    files: dict[str, Path] = {}
    extra: dict[str, Any] = {}
    validation: dict[str, Any] = {}
    status, reason = "ok", None
    try:
        why = check_applicable(model, precision)
        if why:
            raise NotApplicable(why)
        files, extra, validation = _generate(model, precision, pruning, engine, folder, n_calibration,
                                             n_validation)
    except NotApplicable as exc:
        status, reason = "unsupported", str(exc)
    except Exception as exc:  # boundary: torch's tools raise anything; the variant is stored as failed
        log.exception("torch variant generation failed")
        status, reason = "failed", f"torch {precision}/{pruning}: {type(exc).__name__}: {str(exc)[:300]}"
    sizes = {r: p.stat().st_size for r, p in files.items()}
    primary = "main" if "main" in sizes else "prefill"
    extra.update(size_bytes_by_role=sizes, generate_s=time.perf_counter() - t0, tool=extra.get("tool"))
    variant = VariantArtifact(status=status, reason=reason, files=files, validation=validation,
                              sha256=files_digest(files) if files else "", size_bytes=sizes.get(primary, 0),
                              flops=int(model.flops or 0), extra=extra, **base)
    write_sidecar(folder, variant.to_json())
    if status != "ok":
        log.warning("%s", reason)
    return variant


def _generate(model: ModelArtifact, precision: str, pruning: str, engine: str, folder: Path, n_cal: int,
              n_val: int) -> tuple[dict[str, Path], dict[str, Any], dict[str, Any]]:
    ref = torch_models.build_modules(model)
    mods = torch_models.build_modules(model)
    extra: dict[str, Any] = {}
    info = prune_modules(mods, pruning)
    if info:
        extra["pruning"] = info
    files: dict[str, Path] = {}
    validation: dict[str, Any] = {}
    for role, mod in mods.items():
        val = sample_inputs(model, ref, role, "validation", n_val)
        scripted = precision.startswith("int8")
        if precision in _DTYPES:
            out_mod: nn.Module = CastIO(copy.deepcopy(mod), _DTYPES[precision]).eval()
            extra["tool"] = f"module.to({_DTYPES[precision]}) behind fp32 I/O; torch.export"
        elif precision == "int8-dynamic":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out_mod = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    copy.deepcopy(mod), {nn.Linear, nn.LSTM}, dtype=torch.qint8)
            extra["tool"] = "torch.ao.quantization.quantize_dynamic({Linear, LSTM}, qint8); TorchScript"
            extra["quantized_modules"] = sum(1 for m in out_mod.modules()
                                             if "quantized" in type(m).__module__)
        elif precision == "int8-static":
            cal = sample_inputs(model, ref, role, "calibration", n_cal)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out_mod = _static_int8(mod, role, model, cal, engine)
            extra["tool"] = f"torch.ao.quantization.quantize_fx prepare_fx/convert_fx ({engine}); TorchScript"
            extra["quantized_engine"] = engine
        else:
            out_mod = mod
            extra["tool"] = "torch.export"
        files[role] = _save(out_mod, val[0], folder / role, scripted)
        extra["format"] = "TorchScript" if scripted else "ExportedProgram"
        validation[role] = validate(load_artifact(files[role]), ref[role], val)
        if precision == "fp32" and pruning == "none" and model.kind in ("cnn", "llm"):
            validation[role]["vs_onnx_reference"] = _vs_onnx(model, role, files[role], val)
    return files, extra, validation


def validate(variant: Callable[..., Any], ref: nn.Module, inputs: Inputs) -> dict[str, Any]:
    """Fidelity per output vs the fp32 reference; ``fidelity`` is the first output's (the logits)."""
    got, want = _outputs(variant, inputs), _outputs(ref, inputs)
    if any(len(g) != len(w) or any(a.shape != b.shape for a, b in zip(g, w)) for g, w in zip(got, want)):
        raise ValueError("the variant's outputs do not have the fp32 model's shapes")
    if not all(np.isfinite(a).all() for g in got for a in g):
        raise ValueError("non-finite values (NaN/inf) in the variant's outputs")
    per = [fidelity([w[k] for w in want], [g[k] for g in got]) for k in range(len(want[0]))]
    return {"fidelity": per[0], "fidelity_by_output": per}


def _vs_onnx(model: ModelArtifact, role: str, path: Path, inputs: Inputs) -> list[dict[str, Any]]:
    """The saved fp32 torch artifact against ONNX Runtime on the ONNX reference, every output."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model.files[role]), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    torch_out = _outputs(load_artifact(path), inputs)
    onnx_out: list[list[np.ndarray]] = []
    for args in inputs:
        if role == "decode":
            feed = torch_models.onnx_decode_feed({"input_ids": args[0].numpy(), "position": args[1].numpy(),
                                                  "cache": args[2].numpy()}, int(model.meta["llm"]["layers"]))
        else:
            feed = dict(zip(names, (a.numpy() for a in args)))
        outs = sess.run(None, feed)
        if model.kind == "llm":  # per-layer present tensors → the stacked cache
            layers = int(model.meta["llm"]["layers"])
            outs = [outs[0], np.stack([np.stack([outs[1 + 2 * i], outs[2 + 2 * i]]) for i in range(layers)])]
        onnx_out.append(outs)
    return [fidelity([o[k] for o in onnx_out], [t[k] for t in torch_out]) for k in range(len(onnx_out[0]))]
