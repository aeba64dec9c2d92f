"""Which precision a model already has, and whether a precision recipe applies — decided on the graph the
quantizer will actually see (after the opset upgrade, pre-processing and Constant→initializer pass), not on
the user's file: pre-processing turns MatMul+Add into Gemm, which MatMulNBits cannot quantize.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import onnx

#: ops that mean "this graph is already quantized", and to what
_INT8_OPS = {"QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear",
             "DynamicQuantizeMatMul", "DynamicQuantizeLSTM", "QAttention", "MatMulIntegerToFloat",
             "QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearSigmoid", "QLinearGlobalAveragePool",
             "QLinearLeakyRelu"}
_INT4_OPS = {"MatMulNBits", "GatherBlockQuantized"}
_QDQ = {"QuantizeLinear", "DequantizeLinear"}
_LOW_BITS = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT4, onnx.TensorProto.UINT4,
             onnx.TensorProto.INT16, onnx.TensorProto.UINT16}
#: ops the static QDQ quantizer gives integer kernels (the rest are wrapped or left in float)
STATIC_COMPUTE = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
CONTROL_FLOW = {"If", "Loop", "Scan"}


def walk(graph: onnx.GraphProto, depth: int = 0) -> Iterator[tuple[onnx.NodeProto, int]]:
    """Every node with its nesting depth (0 = the main graph, >0 = inside If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node, depth
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from walk(attr.g, depth + 1)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from walk(g, depth + 1)


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def float_weights(model: onnx.ModelProto) -> Counter[str]:
    kinds: Counter[str] = Counter()
    names = {onnx.TensorProto.FLOAT: "fp32", onnx.TensorProto.FLOAT16: "fp16",
             onnx.TensorProto.BFLOAT16: "bf16"}
    tensors = list(model.graph.initializer)
    # exporters such as paddle2onnx keep weights in Constant nodes rather than initializers
    tensors += [a.t for n, _ in walk(model.graph) if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    for t in tensors:
        if t.data_type in names and _numel(t) > 1:
            kinds[names[t.data_type]] += _numel(t)
    return kinds


def _numel(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    return n


def describe_model(model: onnx.ModelProto) -> dict[str, Any]:
    """Node counts, opset and the precision the graph already computes in, with the evidence."""
    ops: Counter[str] = Counter(n.op_type for n, _ in walk(model.graph))
    inits = {t.name: t for t in model.graph.initializer}
    low_bit_qdq = any(n.op_type == "DequantizeLinear" and n.input and n.input[0] in inits
                      and inits[n.input[0]].data_type in _LOW_BITS for n in model.graph.node)
    int4 = {op: c for op, c in ops.items() if op in _INT4_OPS}
    int8 = {op: c for op, c in ops.items() if op in _INT8_OPS or (low_bit_qdq and op in _QDQ)}
    weights = float_weights(model)
    if int4:
        label, evidence = "int4", int4
    elif int8:
        label, evidence = "int8", int8
    elif weights and weights.most_common(1)[0][0] != "fp32":
        label, evidence = weights.most_common(1)[0][0], dict(weights)
    else:
        label, evidence = "fp32", {}
    return {"nodes": len(model.graph.node), "nodes_total": sum(ops.values()), "opset": _opset(model),
            "producer": f"{model.producer_name} {model.producer_version}".strip(), "precision": label,
            "precision_evidence": evidence,
            "control_flow_nodes": sum(c for op, c in ops.items() if op in CONTROL_FLOW)}


def weight_matmuls(model: onnx.ModelProto) -> int:
    """MatMul nodes of the main graph whose B is a 2-D initializer: what dynamic int8 and MatMulNBits
    quantize."""
    inits = {i.name: i for i in model.graph.initializer}
    return sum(1 for n in model.graph.node
               if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2)


def _where(model: onnx.ModelProto, ops: set[str]) -> tuple[int, int]:
    """(count in the main graph, count inside control-flow bodies) of ``ops``."""
    top = inner = 0
    for n, depth in walk(model.graph):
        if n.op_type in ops:
            if depth == 0:
                top += 1
            else:
                inner += 1
    return top, inner


def not_applicable(precision: str, as_given: dict[str, Any], seen: onnx.ModelProto | None) -> str | None:
    """Why ``precision`` does not apply (None when it does). ``seen`` is the graph the recipe's tool gets."""
    have = as_given.get("precision", "fp32")
    if precision == "fp32" or precision == have:
        return None
    if have != "fp32":
        evidence = ", ".join(f"{op} ×{n}" for op, n in sorted(as_given.get("precision_evidence", {}).items()))
        return f"the model as given is already {have} ({evidence}); its {have} job is the as-given one"
    if seen is None:
        return None
    if precision == "fp16":
        return None if float_weights(seen).get("fp32") else "the model has no float32 weights to convert"
    if precision == "int8-static":
        top, inner = _where(seen, STATIC_COMPUTE)
        if top:
            return None
        if inner:
            return (f"no quantizable op outside control flow ({inner} Conv/MatMul/Gemm inside If/Loop/Scan "
                    "bodies, which the static quantizer does not enter)")
        return "static int8 quantizes Conv/ConvTranspose/MatMul/Gemm and the model has none"
    if precision in ("int8-dynamic", "int4"):
        if weight_matmuls(seen):
            return None
        gemms, _ = _where(seen, {"Gemm"})
        top, inner = _where(seen, {"MatMul"})
        tool = "MatMulNBits (int4)" if precision == "int4" else "dynamic int8"
        found = f"Gemm ×{gemms}, " if gemms else ""
        found += f"MatMul ×{top} without constant 2-D weights" if top else "no MatMul"
        found += f", {inner} MatMul inside control flow" if inner else ""
        inits = {t.name for t in seen.graph.initializer}
        lstm = precision == "int8-dynamic" and any(
            n.op_type == "LSTM" and len(n.input) > 2 and n.input[1] in inits and n.input[2] in inits
            for n in seen.graph.node)
        return None if lstm else f"{tool} quantizes MatMul weights and the graph it sees has {found}"
    return None
