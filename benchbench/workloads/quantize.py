"""Precision recipes, each a thin call into ONNX Runtime's own tooling (file in → file out).

Facts these follow (measured, see shared/reference/workloads.md): pre-process before quantizing;
U8S8 QDQ is the fused fast path on x86 while ARM/NPU targets want S8S8; dynamic int8 only for
MatMul-heavy models; int4 is weight-only MatMulNBits (block 32, symmetric).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

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


def toposort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after its producers (the fp16 converter appends its input Casts last)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = [n for n in pending if not all(i in ready for i in n.input)]
        done = [n for n in pending if all(i in ready for i in n.input)]
        if not done:
            raise ValueError("graph has a cycle or a dangling input: " + pending[0].name)
        for n in done:
            ordered.append(n)
            ready.update(n.output)
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def preprocess(src: Path, dst: Path, scratch: Path) -> dict[str, Any]:
    """fp32 baseline for every variant: ORT basic graph optimisation (BN/constant folding) + shape inference.

    Runs from ``scratch`` because the tool may write a temp file into the working directory.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    cwd = os.getcwd()
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        os.chdir(scratch)
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    finally:
        os.chdir(cwd)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quant_pre_process", "skip_symbolic_shape": True}


def fp16(src: Path, dst: Path) -> dict[str, Any]:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    out = convert_float_to_float16(model, keep_io_types=True)
    toposort(out.graph)
    onnx.save(out, str(dst))
    return {"tool": "onnxruntime.transformers.float16.convert_float_to_float16", "keep_io_types": True}


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
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static

    cls = arch_class(target_arch)
    act = QuantType.QUInt8 if cls == "x86" else QuantType.QInt8
    reader = type("SeededReader", (_Reader, CalibrationDataReader), {})(feeds)
    quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=act, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=op_types)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "per_channel": True,
            "activations": "uint8" if cls == "x86" else "int8", "weights": "int8",
            "flavour": "U8S8" if cls == "x86" else "S8S8", "calibration": "MinMax",
            "calibration_samples": len(feeds), "op_types": op_types or "default"}


def int8_dynamic(src: Path, dst: Path) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.quantize_dynamic", "op_types": ["MatMul"], "weights": "int8"}


def int4(src: Path, dst: Path, block_size: int = 32) -> dict[str, Any]:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quant = MatMulNBitsQuantizer(onnx.load(str(src)), bits=4, block_size=block_size, is_symmetric=True,
                                 op_types_to_quantize=("MatMul",))
    quant.process()
    quant.model.save_model_to_file(str(dst), use_external_data_format=False)
    copy_metadata(onnx.load(str(src), load_external_data=False), dst)
    return {"tool": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer", "bits": 4,
            "block_size": block_size, "symmetric": True, "op_types": ["MatMul"]}


def weight_matmuls(model: onnx.ModelProto) -> int:
    """MatMul nodes whose B is a 2-D initializer: what dynamic int8 and MatMulNBits can quantize."""
    inits = {i.name: i for i in model.graph.initializer}
    return sum(1 for n in model.graph.node
               if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2)
