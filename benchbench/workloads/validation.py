"""Validate a generated variant before it is timed.

Checks, in order: ``onnx.checker``, loads in ONNX Runtime (CPU EP, full optimisation, optimized graph
saved so its op histogram is recorded), expected precision ops actually present (a silent fp32 fallback
fails here), runs on held-out inputs with finite outputs of the reference's shapes, and fidelity versus the
reference for EVERY output: SQNR (dB), relative and absolute errors always; cosine only for outputs of at
least ``MIN_COSINE_ELEMENTS`` elements (the cosine of a 1-element output is always 1); top-1 agreement only
for 2-D ``[batch, classes]`` outputs (never for detector or segmentation maps) and per token for the LLM.
The worst output (lowest SQNR) is named and is what the variant's fidelity figures report. Low fidelity is
reported, not failed: without fine-tuning pruning is expected to lose accuracy.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx

#: ops that compute in a quantized or reduced type once ORT has optimized the graph
QUANT_COMPUTE = {"QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger", "ConvInteger",
                 "DynamicQuantizeMatMul", "MatMulNBits", "QLinearAdd", "QLinearMul", "QAttention",
                 "MatMulIntegerToFloat", "GatherBlockQuantized"}
FLOAT_COMPUTE = {"Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm", "FusedGemm"}
#: what must be in the variant graph for each precision (before ORT optimisation)
EXPECTED = {"int8-static": {"QuantizeLinear", "DequantizeLinear"},
            "int8-dynamic": {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear",
                             "DynamicQuantizeLSTM"},
            "int4": {"MatMulNBits"}}


#: below this many elements per sample a cosine says nothing (1 element: always ±1)
MIN_COSINE_ELEMENTS = 16


class ValidationFailed(Exception):
    """Internal: carries the one-line reason up to ``validate``."""


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter((f"{n.domain}." if n.domain not in ("", "ai.onnx") else "") + n.op_type
                               for n in model.graph.node).items()))


def _fp16_fraction(model: onnx.ModelProto) -> float:
    """Share of float weight elements (initializers and Constant nodes) stored as fp16."""
    from .applicability import float_weights

    kinds = float_weights(model)
    total = kinds.get("fp32", 0) + kinds.get("fp16", 0)
    return kinds.get("fp16", 0) / total if total else 0.0


def load_optimized(path: Path) -> tuple[Any, dict[str, int]]:
    """ORT session (CPU EP, ORT_ENABLE_ALL) plus the op histogram of the graph ORT actually runs."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="bb-opt-") as tmp:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        hist = op_histogram(onnx.load(so.optimized_model_filepath, load_external_data=False))
    return sess, hist


def fidelity(ref: list[np.ndarray], out: list[np.ndarray], top1: str = "auto") -> dict[str, Any]:
    """Metrics of one output over samples. ``top1``: ``auto`` (2-D [batch, classes] outputs only),
    ``per-token`` (argmax over the last axis of every position: LLM logits) or ``none``."""
    r = np.stack([x.astype(np.float64).reshape(-1) for x in ref])
    o = np.stack([x.astype(np.float64).reshape(-1) for x in out])
    err = r - o
    noise = float(np.sum(err * err))
    signal = float(np.sum(r * r))
    sqnr = (float("inf") if noise == 0
            else (float(10.0 * np.log10(signal / noise)) if signal > 0 else float("-inf")))
    res: dict[str, Any] = {"samples": len(ref), "elements": int(r.shape[1]), "sqnr_db": sqnr,
                           "rel_error": (float(np.sqrt(noise / signal)) if signal > 0
                                         else (0.0 if noise == 0 else None)),
                           "max_abs_error": float(np.abs(err).max()) if err.size else 0.0,
                           "mean_abs_error": float(np.abs(err).mean()) if err.size else 0.0,
                           "cosine_mean": None, "cosine_min": None, "top1_agreement": None,
                           "top1_positions": None}
    if r.shape[1] >= MIN_COSINE_ELEMENTS:
        cos = np.sum(r * o, axis=1) / np.maximum(np.linalg.norm(r, axis=1) * np.linalg.norm(o, axis=1), 1e-30)
        res.update(cosine_mean=float(cos.mean()), cosine_min=float(cos.min()))
    shape = ref[0].shape
    if top1 == "per-token" or (top1 == "auto" and len(shape) == 2 and shape[1] >= 2):
        last = shape[-1]
        agree = (np.concatenate([x.reshape(-1, last).argmax(-1) for x in ref])
                 == np.concatenate([x.reshape(-1, last).argmax(-1) for x in out]))
        res.update(top1_agreement=float(agree.mean()), top1_positions=int(agree.size))
    if not np.issubdtype(ref[0].dtype, np.floating):
        res["exact_match"] = float(np.mean(r == o))
    return res


def all_fidelity(names: list[str], ref: list[list[np.ndarray]], out: list[list[np.ndarray]],
                 top1: str = "auto") -> dict[str, Any]:
    """Per-output fidelity, the worst output (lowest SQNR) by name, and its metrics as the summary."""
    per = {name: fidelity([s[i] for s in ref], [s[i] for s in out], top1 if i == 0 else "auto")
           for i, name in enumerate(names)}
    worst = min(names, key=lambda n: per[n]["sqnr_db"])
    summary = dict(per[worst], output=worst, outputs_validated=len(names))
    return {"outputs": per, "worst_output": worst, "summary": summary}


def check_precision_ops(precision: str, model: onnx.ModelProto) -> dict[str, Any]:
    hist = op_histogram(model)
    if precision == "fp16":
        frac = _fp16_fraction(model)
        if frac < 0.5:
            raise ValidationFailed(f"silent fp32 fallback: only {frac:.0%} of float weights are fp16")
        return {"fp16_weight_fraction": frac}
    wanted = EXPECTED.get(precision)
    if wanted is None:
        return {}
    found = {op: n for op, n in hist.items() if op.split(".")[-1] in wanted}
    if not found:
        raise ValidationFailed(f"silent fp32 fallback: the {precision} graph has none of {sorted(wanted)}")
    return {"precision_ops": found}


def run_outputs(sess: Any, feeds: list[dict[str, np.ndarray]]) -> list[list[Any]]:
    """Every output of each run, in the session's output order."""
    try:
        return [list(sess.run(None, f)) for f in feeds]
    except Exception as exc:  # noqa: BLE001  ORT's errors are untyped; the model's own message is the reason
        raise ValidationFailed("the model rejected the inputs: " + str(exc).splitlines()[0]) from None


def output_names(path: Path) -> list[str]:
    return [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]


def reference_outputs(path: Path, feeds: list[dict[str, np.ndarray]]) -> list[list[Any]]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  ORT's untyped load errors
        raise ValidationFailed("the fp32 reference does not load: " + str(exc).splitlines()[0]) from None
    return run_outputs(sess, feeds)


def validate_role(precision: str, path: Path, ref_outputs: list[list[Any]],
                  feeds: list[dict[str, np.ndarray]], names: list[str] | None = None,
                  top1: str = "auto", reshaped_ok: bool = False) -> dict[str, Any]:
    """Validate one graph; raises ValidationFailed with a one-line reason. ``reshaped_ok``: structured pruning
    may legitimately shrink secondary outputs (a pruned decoder's KV cache has fewer heads)."""
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ValidationFailed("onnx.checker: " + str(exc).splitlines()[0]) from None
    model = onnx.load(str(path), load_external_data=False)
    info: dict[str, Any] = {"graph_ops": op_histogram(model)}
    info.update(check_precision_ops(precision, model))
    try:
        sess, opt_hist = load_optimized(path)
    except Exception as exc:  # noqa: BLE001  ORT raises Fail/InvalidGraph/RuntimeException without a common base
        raise ValidationFailed("onnxruntime could not load the variant: "
                               + str(exc).splitlines()[0]) from None
    quant = sum(n for op, n in opt_hist.items() if op.split(".")[-1] in QUANT_COMPUTE)
    flt = sum(n for op, n in opt_hist.items() if op.split(".")[-1] in FLOAT_COMPUTE)
    info.update(optimized_ops=opt_hist, quantized_compute_ops=quant, float_compute_ops=flt,
                casts_in_optimized=opt_hist.get("Cast", 0))
    outs = run_outputs(sess, feeds)
    names = names or [o.name for o in sess.get_outputs()]
    skipped = _not_comparable(names, ref_outputs, outs, reshaped_ok)
    keep = [i for i, n in enumerate(names) if n not in skipped]
    if not keep:
        raise ValidationFailed("no output could be compared with the reference: "
                               + "; ".join(f"{n}: {why}" for n, why in skipped.items()))
    fid = all_fidelity([names[i] for i in keep], [[s[i] for i in keep] for s in ref_outputs],
                       [[s[i] for i in keep] for s in outs], top1)
    info["fidelity"] = fid["summary"]
    info["outputs"] = dict(fid["outputs"], **{n: {"not_compared": why} for n, why in skipped.items()})
    info["worst_output"] = fid["worst_output"]
    return info


def _not_comparable(names: list[str], ref: list[list[Any]], out: list[list[Any]],
                    reshaped_ok: bool) -> dict[str, str]:
    """Outputs that cannot be compared, with why; raises for a variant that broke an output the reference
    computes (non-finite values, a changed fixed shape)."""
    skipped: dict[str, str] = {}
    for i, name in enumerate(names):
        refs, outs = [s[i] for s in ref], [s[i] for s in out]
        if not all(isinstance(x, np.ndarray) for x in refs + outs):
            skipped[name] = "not a tensor (sequence or map output)"
        elif any(x.dtype.kind in "OUS" for x in refs + outs):
            skipped[name] = "string tensor"
        elif any(o.shape != r.shape for o, r in zip(outs, refs)):
            data_dependent = len({r.shape for r in refs}) > 1
            if not (data_dependent or (reshaped_ok and i > 0)):
                o, r = next((o, r) for o, r in zip(outs, refs) if o.shape != r.shape)
                raise ValidationFailed(f"output {name!r} has shape {o.shape}, the reference {r.shape}")
            skipped[name] = ("shape varies with the input (data-dependent size)" if data_dependent
                             else "shape changed by structured pruning")
        elif any(r.dtype.kind == "f" and not np.isfinite(r).all() for r in refs):
            skipped[name] = "the reference itself has NaN/inf on these inputs"
        elif any(o.dtype.kind == "f" and not np.isfinite(o).all() for o in outs):
            raise ValidationFailed(f"non-finite values (NaN/inf) in output {name!r}")
    return skipped
