"""Precision recipes, each a thin call into ONNX Runtime's own tooling (file in → file out).

Facts these follow (measured, see shared/reference/workloads.md): pre-process before quantizing;
U8S8 QDQ is the fused fast path on x86 while ARM/NPU targets want S8S8; dynamic int8 only for
MatMul-heavy models; int4 is weight-only MatMulNBits (block 32, symmetric).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

ARCH_CLASSES = {"x86_64": "x86", "amd64": "x86", "x86": "x86", "aarch64": "arm", "arm64": "arm", "arm": "arm",
                "armv7l": "arm", "npu": "arm"}


def arch_class(target_arch: str) -> str:
    """``x86`` or ``arm`` (ARM CPUs and NPUs share the S8S8 preference)."""
    return ARCH_CLASSES.get(target_arch.lower(), "arm")


def copy_metadata(src: onnx.ModelProto, dst_path: Path) -> None:
    """Quantizers drop ``metadata_props``; the agent reads the LLM layout from it, so put it back."""
    out = onnx.load(str(dst_path))
    have = {p.key for p in out.metadata_props}
    for p in src.metadata_props:
        if p.key not in have:  # keep the tools' own markers (e.g. quant_pre_process's)
            out.metadata_props.add(key=p.key, value=p.value)
    onnx.save(out, str(dst_path))


def _outer_names(node: onnx.NodeProto) -> set[str]:
    """Values an If/Loop/Scan body reads from the enclosing graph (implicit inputs of ``node``)."""
    used: set[str] = set()
    for attr in node.attribute:
        for g in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
            local = {i.name for i in g.input} | {i.name for i in g.initializer}
            for n in g.node:
                local.update(n.output)
            for n in g.node:
                used.update(i for i in n.input if i and i not in local)
                used.update(x for x in _outer_names(n) if x not in local)
            used.update(o.name for o in g.output if o.name not in local)
    return used


def toposort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after its producers, implicit subgraph inputs included (the fp16
    converter appends its input Casts last)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    produced = {o for n in graph.node for o in n.output}
    needs = [(n, [i for i in list(n.input) + sorted(_outer_names(n)) if i in produced or i in ready])
             for n in graph.node]
    pending = needs
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = [(n, d) for n, d in pending if not all(i in ready for i in d)]
        done = [n for n, d in pending if all(i in ready for i in d)]
        if not done:
            raise ValueError("graph has a cycle or a dangling input: " + pending[0][0].name)
        for n in done:
            ordered.append(n)
            ready.update(n.output)
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def _sorted_in_place(path: Path) -> None:
    """The quantizers append their Q/DQ nodes without regard to values an If body reads from outside."""
    model = onnx.load(str(path))
    toposort(model.graph)
    onnx.save(model, str(path))


#: the lowest opset the QDQ quantizer's per-channel DequantizeLinear(axis=...) is valid in
MIN_QUANT_OPSET = 13


@contextlib.contextmanager
def quiet_tools() -> Iterator[None]:
    """ORT's quantization tools log through the root logger ("Axis 1 is out-of-range…"); hold those messages
    back so a run's stderr carries our one-line reasons, not the tools' chatter."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def upgrade_opset(src: Path, dst: Path, target: int = MIN_QUANT_OPSET) -> dict[str, Any] | None:
    """Convert a graph below opset ``target`` with onnx's version converter; None when nothing was needed."""
    from onnx import version_converter

    model = onnx.load(str(src))
    have = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), target)
    if have >= target:
        return None
    out = version_converter.convert_version(model, target)
    onnx.save(out, str(dst))
    return {"transform": f"opset {have} → {target} (onnx.version_converter)", "from": have, "to": target}


def constants_to_initializers(src: Path, dst: Path) -> int:
    """Turn tensor-valued ``Constant`` nodes of the main graph into initializers: the quantizers find
    weights only among initializers. Returns how many were moved."""
    model = onnx.load(str(src))
    keep, moved = [], 0
    for n in model.graph.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            model.graph.initializer.append(t)
            moved += 1
        else:
            keep.append(n)
    if moved:
        del model.graph.node[:]
        model.graph.node.extend(keep)
    onnx.save(model, str(dst))
    return moved


def preprocess(src: Path, dst: Path, scratch: Path, optimize: bool = True) -> dict[str, Any]:
    """Quantizer input: ORT basic graph optimisation (BN/constant folding; MatMul+Add → Gemm) + shape
    inference. ``optimize=False`` keeps the ops as they are (weight-only quantizers need MatMul, not Gemm).

    Runs from ``scratch`` because the tool may write a temp file into the working directory.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    cwd = os.getcwd()
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        os.chdir(scratch)
        with quiet_tools():
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, skip_optimization=not optimize)
    finally:
        os.chdir(cwd)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quant_pre_process", "skip_symbolic_shape": True,
            "optimization": "ORT basic" if optimize else "none (shape inference only)"}


#: how ORT names the op it cannot run in fp16 ("Could not find an implementation for Mod(13) node…",
#: 'In Node, ("", GridSample, "", -1) : …')
_FP16_OP = re.compile(r"(?:implementation|kernel) for (?:[\w.]+\.)?(\w+)\(|In Node, \(\"[^\"]*\", (\w+),")


def fp16(src: Path, dst: Path, max_blocked: int = 6) -> dict[str, Any]:
    """fp16 weights and compute with fp32 graph inputs/outputs. An op ORT's CPU kernels cannot run in fp16 is
    kept in fp32 (op_block_list, behind casts) and named, so the variant loads instead of failing."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    blocked: list[str] = []
    while True:
        model = onnx.load(str(src))
        with quiet_tools():
            out = convert_float_to_float16(model, keep_io_types=True,
                                           op_block_list=list(DEFAULT_OP_BLOCK_LIST) + blocked)
        toposort(out.graph)
        onnx.save(out, str(dst))
        op = _unloadable_op(dst)
        if op is None or op in blocked or len(blocked) >= max_blocked:
            break
        blocked.append(op)
    return {"tool": "onnxruntime.transformers.float16.convert_float_to_float16", "keep_io_types": True,
            **({"kept_in_fp32": blocked} if blocked else {})}


def _unloadable_op(path: Path) -> str | None:
    """The op type an ORT CPU session refuses in this graph, if its error names one."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  ORT's untyped load errors: only the op name is wanted
        m = _FP16_OP.search(str(exc))
        return (m.group(1) or m.group(2)) if m else None
    return None


class _Reader:
    """CalibrationDataReader over a fixed list of seeded feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


def int8_static(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]], target_arch: str,
                op_types: list[str] | None) -> dict[str, Any]:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    cls = arch_class(target_arch)
    act = QuantType.QUInt8 if cls == "x86" else QuantType.QInt8
    extra: dict[str, Any] = {}

    def run() -> None:
        reader = type("SeededReader", (_Reader, CalibrationDataReader), {})(feeds)
        with quiet_tools():
            quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=act, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=op_types,
                            extra_options=extra)

    try:
        run()
    except ValueError:
        # ORT's int32-bias weight-scale adjustment fails on some per-channel layers ("truth value of an
        # array … is ambiguous"); the quantization without that adjustment is still valid QDQ
        extra["QDQDisableWeightAdjustForInt32Bias"] = True
        run()
    _sorted_in_place(dst)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "per_channel": True,
            "activations": "uint8" if cls == "x86" else "int8", "weights": "int8",
            "flavour": "U8S8" if cls == "x86" else "S8S8", "calibration": "MinMax",
            "calibration_samples": len(feeds), "op_types": op_types or "default",
            **({"extra_options": dict(extra)} if extra else {})}


def int8_dynamic(src: Path, dst: Path) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul"] + (["LSTM"] if any(n.op_type == "LSTM" for n in onnx.load(str(src)).graph.node) else [])
    with quiet_tools():
        quantize_dynamic(str(src), str(dst), op_types_to_quantize=ops, weight_type=QuantType.QInt8)
    _sorted_in_place(dst)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quantize_dynamic", "op_types": ops, "weights": "int8"}


def int4(src: Path, dst: Path, block_size: int = 32) -> dict[str, Any]:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quant = MatMulNBitsQuantizer(onnx.load(str(src)), bits=4, block_size=block_size, is_symmetric=True,
                                 op_types_to_quantize=("MatMul",))
    with quiet_tools():
        quant.process()
    quant.model.save_model_to_file(str(dst), use_external_data_format=False)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer", "bits": 4,
            "block_size": block_size, "symmetric": True, "op_types": ["MatMul"]}
