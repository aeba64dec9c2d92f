"""Single-op ONNX models for the reference kernels, built deterministically from a seed.

fp16 and int8 have no fast numpy path, so GEMM and convolutions at every precision run as one ONNX
Runtime operator: MatMul / Conv in fp32 or fp16, MatMulInteger (u8×s8→i32) and QLinearConv (u8/s8) in int8.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
_FLOAT = {"fp32": (TensorProto.FLOAT, np.float32), "fp16": (TensorProto.FLOAT16, np.float16)}


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
           outputs: list[onnx.ValueInfoProto], inits: list[onnx.TensorProto], name: str) -> bytes:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="benchbench")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)  # type: ignore[no-any-return]


def matmul(m: int, k: int, n: int, precision: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if precision == "int8":
        b = numpy_helper.from_array(rng.integers(-128, 128, size=(k, n), dtype=np.int8), "B")
        azp = numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zp")
        bzp = numpy_helper.from_array(np.array(0, dtype=np.int8), "b_zp")
        node = helper.make_node("MatMulInteger", ["A", "B", "a_zp", "b_zp"], ["Y"])
        return _model([node], [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
                      [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])], [b, azp, bzp],
                      "gemm_int8")
    ttype, npt = _FLOAT[precision]
    b = numpy_helper.from_array(rng.standard_normal((k, n)).astype(npt), "B")
    node = helper.make_node("MatMul", ["A", "B"], ["Y"])
    return _model([node], [helper.make_tensor_value_info("A", ttype, [m, k])],
                  [helper.make_tensor_value_info("Y", ttype, [m, n])], [b], f"gemm_{precision}")


def conv(batch: int, cin: int, cout: int, h: int, w: int, kernel: int, groups: int, precision: str,
         seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pad = kernel // 2
    wshape = (cout, cin // groups, kernel, kernel)
    attrs: dict[str, Any] = {"pads": [pad] * 4, "group": groups, "kernel_shape": [kernel, kernel]}
    xshape, yshape = [batch, cin, h, w], [batch, cout, h, w]
    if precision == "int8":
        inits = [
            numpy_helper.from_array(np.array(0.02, dtype=np.float32), "x_scale"),
            numpy_helper.from_array(np.array(128, dtype=np.uint8), "x_zp"),
            numpy_helper.from_array(rng.integers(-127, 128, size=wshape, dtype=np.int8), "W"),
            numpy_helper.from_array(np.full((cout,), 0.01, dtype=np.float32), "w_scale"),
            numpy_helper.from_array(np.zeros((cout,), dtype=np.int8), "w_zp"),
            numpy_helper.from_array(np.array(0.05, dtype=np.float32), "y_scale"),
            numpy_helper.from_array(np.array(128, dtype=np.uint8), "y_zp"),
            numpy_helper.from_array(rng.integers(-1000, 1000, size=(cout,), dtype=np.int32), "Bias"),
        ]
        node = helper.make_node("QLinearConv", ["X", "x_scale", "x_zp", "W", "w_scale", "w_zp", "y_scale",
                                                "y_zp", "Bias"], ["Y"], **attrs)
        return _model([node], [helper.make_tensor_value_info("X", TensorProto.UINT8, xshape)],
                      [helper.make_tensor_value_info("Y", TensorProto.UINT8, yshape)], inits, "conv_int8")
    ttype, npt = _FLOAT[precision]
    fan_in = (cin // groups) * kernel * kernel
    inits = [numpy_helper.from_array((rng.standard_normal(wshape) / np.sqrt(fan_in)).astype(npt), "W"),
             numpy_helper.from_array(rng.standard_normal(cout).astype(npt) * 0.1, "Bias")]
    node = helper.make_node("Conv", ["X", "W", "Bias"], ["Y"], **attrs)
    return _model([node], [helper.make_tensor_value_info("X", ttype, xshape)],
                  [helper.make_tensor_value_info("Y", ttype, yshape)], inits, f"conv_{precision}")
