"""FLOP and byte counts for ONNX models and reference kernels (FLOPs = 2 × multiply-accumulates).

Counts cover the dense compute ops (Conv, MatMul, Gemm); element-wise ops, softmax and norms are
left out, as is usual for GFLOP/s figures. Count precision variants on their fp32 source: quantizing
changes the arithmetic type, not the number of operations. Byte counts are the minimum traffic: every
initializer read once plus the graph inputs and outputs (activations re-read from cache are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


@dataclass(frozen=True)
class WorkCounts:
    flops: int
    params: int
    #: parameters that are not zero (unstructured pruning leaves shapes, hence ``params``, unchanged)
    nonzero_params: int
    weight_bytes: int
    io_bytes: int
    per_op_flops: dict[str, int]

    @property
    def min_bytes(self) -> int:
        return self.weight_bytes + self.io_bytes


def gemm_flops(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def conv_flops(batch: int, cin: int, cout: int, h_out: int, w_out: int, kh: int, kw: int,
               groups: int = 1) -> int:
    return 2 * batch * cout * h_out * w_out * (cin // groups) * kh * kw


def _dims(vi: onnx.ValueInfoProto) -> list[int] | None:
    shape = vi.type.tensor_type.shape
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in shape.dim]
    return None if any(d < 0 for d in dims) else dims


def _elem_bytes(elem_type: int) -> int:
    return int(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).itemsize)


def count(model: onnx.ModelProto) -> WorkCounts:
    inferred = shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = _dims(vi)
        if dims is not None:
            shapes[vi.name] = dims
    params = nonzero = weight_bytes = 0
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
        arr = numpy_helper.to_array(init)
        params += arr.size
        nonzero += int(np.count_nonzero(arr))
        weight_bytes += arr.nbytes
    per_op: dict[str, int] = {}
    for node in g.node:
        flops = _node_flops(node, shapes)
        if flops:
            per_op[node.op_type] = per_op.get(node.op_type, 0) + flops
    io = 0
    for vi in list(g.input) + list(g.output):
        dims = shapes.get(vi.name)
        if dims is not None:
            io += prod(dims) * _elem_bytes(vi.type.tensor_type.elem_type)
    return WorkCounts(flops=sum(per_op.values()), params=params, nonzero_params=nonzero,
                      weight_bytes=weight_bytes, io_bytes=io, per_op_flops=per_op)


def _node_flops(node: onnx.NodeProto, shapes: dict[str, list[int]]) -> int:
    if node.op_type == "Conv":
        w, y = shapes.get(node.input[1]), shapes.get(node.output[0])
        if w is None or y is None:
            return 0
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        return 2 * prod(y) * w[1] * prod(w[2:]) if groups else 0
    if node.op_type in ("MatMul", "Gemm"):
        a, y = shapes.get(node.input[0]), shapes.get(node.output[0])
        if a is None or y is None:
            return 0
        trans_a = node.op_type == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute)
        k = a[-2] if trans_a else a[-1]
        return 2 * prod(y) * k
    return 0
