"""A small ONNX graph builder shared by the reference-model builders.

Names are deterministic (``<prefix><counter>``) and every weight comes from the builder's seeded
generator, so the same config and seed give a byte-identical model.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: opset 21 so MatMulNBits/Gather int4 and int4 QDQ need no forced (and fragile) opset upgrade
OPSET = 21
IR_VERSION = 10
META_KEY = "benchbench.model"


class GraphBuilder:
    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self._count: dict[str, int] = {}
        #: structured-pruning groups: coupled (initializer, axis) slices, see ``pruning``
        self.prune_groups: list[dict[str, Any]] = []

    def uid(self, prefix: str) -> str:
        n = self._count.get(prefix, 0)
        self._count[prefix] = n + 1
        return f"{prefix}{n}"

    def const(self, name: str, array: np.ndarray) -> str:
        if name in self.inits:
            return name
        self.arrays[name] = array
        self.inits[name] = numpy_helper.from_array(array, name)
        return name

    def i64(self, values: list[int], name: str | None = None) -> str:
        name = name or "c_" + "_".join(str(v).replace("-", "m") for v in values)
        return self.const(name, np.asarray(values, dtype=np.int64))

    def f32(self, value: float, name: str) -> str:
        return self.const(name, np.asarray(value, dtype=np.float32))

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        """Add a single-output node; returns its output name."""
        node_name = name or self.uid(op_type.lower() + "_")
        out = f"{node_name}_out"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=node_name, **attrs))
        return out

    def rename_output(self, tensor: str, new_name: str) -> str:
        """Give a node output a public name (graph outputs)."""
        for node in self.nodes:
            for i, out in enumerate(node.output):
                if out == tensor:
                    node.output[i] = new_name
        for node in self.nodes:
            for i, inp in enumerate(node.input):
                if inp == tensor:
                    node.input[i] = new_name
        return new_name

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              meta: dict[str, Any]) -> onnx.ModelProto:
        meta = dict(meta, prune_groups=self.prune_groups)
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, list(self.inits.values()))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="benchbench", producer_version="1")
        model.ir_version = IR_VERSION
        helper.set_model_props(model, {META_KEY: json.dumps(meta, sort_keys=True)})
        return model


def tensor(name: str, elem: int, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


def read_meta(model: onnx.ModelProto) -> dict[str, Any]:
    for prop in model.metadata_props:
        if prop.key == META_KEY:
            data: dict[str, Any] = json.loads(prop.value)
            return data
    return {}


def write_meta(model: onnx.ModelProto, meta: dict[str, Any]) -> None:
    for prop in model.metadata_props:
        if prop.key == META_KEY:
            prop.value = json.dumps(meta, sort_keys=True)
            return
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                   META_KEY: json.dumps(meta, sort_keys=True)})
