"""Validate a generated variant before it is timed.

Checks, in order: ``onnx.checker``, loads in ONNX Runtime (CPU EP, full optimisation, optimized graph
saved so its op histogram is recorded), expected precision ops actually present (a silent fp32 fallback
fails here), runs on seeded held-out inputs with finite outputs of the reference's shapes, and fidelity
versus the fp32 reference (cosine, SQNR dB, max-abs error, top-1 / per-token agreement). Low fidelity
is reported, not failed: without fine-tuning pruning is expected to lose accuracy.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx

#: ops that compute in a quantized or reduced type once ORT has optimized the graph
QUANT_COMPUTE = {"QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul",
                 "MatMulNBits", "QLinearAdd", "QLinearMul", "QAttention", "MatMulIntegerToFloat", "GatherBlockQuantized"}
FLOAT_COMPUTE = {"Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm", "FusedGemm"}
#: what must be in the variant graph for each precision (before ORT optimisation)
EXPECTED = {"int8-static": {"QuantizeLinear", "DequantizeLinear"},
            "int8-dynamic": {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"},
            "int4": {"MatMulNBits"}}


class ValidationFailed(Exception):
    """Internal: carries the one-line reason up to ``validate``."""


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter((f"{n.domain}." if n.domain not in ("", "ai.onnx") else "") + n.op_type
                               for n in model.graph.node).items()))


def _fp16_fraction(model: onnx.ModelProto) -> float:
    floats = [i for i in model.graph.initializer if i.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    if not floats:
        return 0.0
    return sum(1 for i in floats if i.data_type == onnx.TensorProto.FLOAT16) / len(floats)


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


def fidelity(ref: list[np.ndarray], out: list[np.ndarray]) -> dict[str, Any]:
    """Metrics over samples of one output; top-1 is per row of the last axis (per image / per token)."""
    r = np.stack([x.astype(np.float64).reshape(-1) for x in ref])
    o = np.stack([x.astype(np.float64).reshape(-1) for x in out])
    err = r - o
    noise = float(np.sum(err * err))
    sqnr = float("inf") if noise == 0 else float(10.0 * np.log10(float(np.sum(r * r)) / noise))
    cos = np.sum(r * o, axis=1) / np.maximum(np.linalg.norm(r, axis=1) * np.linalg.norm(o, axis=1), 1e-30)
    last = ref[0].shape[-1]
    agree = (np.concatenate([x.reshape(-1, last).argmax(-1) for x in ref])
             == np.concatenate([x.reshape(-1, last).argmax(-1) for x in out]))
    return {"samples": len(ref), "sqnr_db": sqnr, "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "max_abs_error": float(np.abs(err).max()), "top1_agreement": float(agree.mean()),
            "top1_positions": int(agree.size)}


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


def run_outputs(sess: Any, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """First output of each run (the logits for the reference models)."""
    try:
        return [sess.run(None, f)[0] for f in feeds]
    except Exception as exc:  # ORT's errors are untyped; the model's own message is the reason
        raise ValidationFailed("the model rejected the inputs: " + str(exc).splitlines()[0]) from None


def reference_outputs(path: Path, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's untyped load errors
        raise ValidationFailed("the fp32 reference does not load: " + str(exc).splitlines()[0]) from None
    return run_outputs(sess, feeds)


def validate_role(precision: str, path: Path, ref_outputs: list[np.ndarray],
                  feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Validate one graph; raises ValidationFailed with a one-line reason."""
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ValidationFailed("onnx.checker: " + str(exc).splitlines()[0]) from None
    model = onnx.load(str(path), load_external_data=False)
    info: dict[str, Any] = {"graph_ops": op_histogram(model)}
    info.update(check_precision_ops(precision, model))
    try:
        sess, opt_hist = load_optimized(path)
    except Exception as exc:  # ORT raises Fail/InvalidGraph/RuntimeException without a common base
        raise ValidationFailed("onnxruntime could not load the variant: " + str(exc).splitlines()[0]) from None
    quant = sum(n for op, n in opt_hist.items() if op.split(".")[-1] in QUANT_COMPUTE)
    flt = sum(n for op, n in opt_hist.items() if op.split(".")[-1] in FLOAT_COMPUTE)
    info.update(optimized_ops=opt_hist, quantized_compute_ops=quant, float_compute_ops=flt,
                casts_in_optimized=opt_hist.get("Cast", 0))
    outs = run_outputs(sess, feeds)
    if any(o.shape != r.shape for o, r in zip(outs, ref_outputs)):
        raise ValidationFailed(f"output shape {outs[0].shape} differs from the fp32 reference {ref_outputs[0].shape}")
    if not all(np.isfinite(o).all() for o in outs):
        raise ValidationFailed("non-finite values (NaN/inf) in the variant's output")
    info["fidelity"] = fidelity(ref_outputs, outs)
    return info
