"""Pruning levels: unstructured magnitude pruning and structured channel/head pruning.

* ``unstructured-<pct>``: zero the smallest-magnitude ``pct`` % of each Conv/Gemm/MatMul weight. Shapes
  stay, so dense kernels do the same work: it changes compressed size (zlib, recorded), not latency.
* ``structured-<pct>``: remove ``pct`` % of the units of every prune group recorded in the model's
  metadata at build time (coupled (initializer, axis) slices, ranked by L1 norm), keeping channel counts
  a multiple of 8 and attention heads whole. This changes params and FLOPs (both recorded).

No fine-tuning follows, so fidelity drops sharply: these levels are performance probes.
"""

from __future__ import annotations

import copy
import re
import zlib
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ConfigError, WorkloadError
from . import flops as flops_mod
from .models._graph import read_meta, write_meta

__all__ = ["compressed_bytes", "parse_spec", "prune", "read_meta", "structured", "unstructured", "write_meta"]

_SPEC = re.compile(r"^(unstructured|structured)-(\d{1,2})$")


def parse_spec(spec: str) -> tuple[str, float]:
    """``none`` → ("none", 0.0); ``structured-25`` → ("structured", 0.25)."""
    if spec in ("none", "dense", ""):
        return "none", 0.0
    m = _SPEC.match(spec)
    if not m or not 0 < int(m.group(2)) < 100:
        raise ConfigError(f"pruning {spec!r} is not 'none', 'unstructured-<1..99>' or 'structured-<1..99>'",
                          key="pruning")
    return m.group(1), int(m.group(2)) / 100.0


def compressed_bytes(model: onnx.ModelProto) -> int:
    # level 1: within ~5 % of level 6 on sparse float weights, ~5x faster (6 dominated variant generation)
    return len(zlib.compress(model.SerializeToString(), 1))


def _weight_names(model: onnx.ModelProto) -> list[str]:
    inits = {i.name for i in model.graph.initializer}
    names = []
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul") and len(node.input) > 1 and node.input[1] in inits:
            names.append(node.input[1])
    return sorted(set(names))


def unstructured(model: onnx.ModelProto, fraction: float) -> tuple[onnx.ModelProto, dict[str, Any]]:
    out = copy.deepcopy(model)
    targets = set(_weight_names(out))
    if not targets:
        raise WorkloadError("unstructured pruning: the model has no Conv/Gemm/MatMul weight initializers")
    total = zeros = 0
    for i, init in enumerate(out.graph.initializer):
        if init.name not in targets:
            continue
        w = numpy_helper.to_array(init).copy()
        k = round(fraction * w.size)
        if k:
            flat = w.reshape(-1)
            flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0  # exactly k smallest magnitudes
        out.graph.initializer[i].CopyFrom(numpy_helper.from_array(w, init.name))
        total += w.size
        zeros += int(np.count_nonzero(w == 0))
    achieved = zeros / total
    if abs(achieved - fraction) > 0.01:
        raise WorkloadError(f"unstructured pruning reached {achieved:.1%} zeros, "
                            f"not the {fraction:.0%} asked")
    return out, {"method": "unstructured", "target_sparsity": fraction, "sparsity": achieved,
                 "nonzero_fraction": 1 - achieved, "pruned_weights": len(targets)}


def _keep_count(size: int, unit: int, multiple: int, fraction: float) -> int:
    keep = size * (1 - fraction)
    if multiple > 1:
        return int(min(size, max(multiple, round(keep / multiple) * multiple)))
    return int(min(size, max(1, round(keep))))


def structured(model: onnx.ModelProto, fraction: float) -> tuple[onnx.ModelProto, dict[str, Any]]:
    out = copy.deepcopy(model)
    meta = read_meta(out)
    groups = meta.get("prune_groups") or []
    if not groups:
        raise ConfigError("structured pruning needs prune groups in the model metadata; this model has none "
                          "(bring-your-own models support unstructured pruning only)", key="pruning")
    arrays = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    attrs: dict[str, int] = {}
    io_dims: dict[tuple[str, int], int] = {}
    new_groups = []
    for g in groups:
        unit, size = int(g["unit"]), int(g["size"])
        keep_n = _keep_count(size, unit, int(g["multiple"]), fraction)
        score = np.zeros(size)
        for name, axis in g["members"]:
            a = np.abs(np.moveaxis(arrays[name], axis, 0)).reshape(size, unit, -1)
            score += a.sum(axis=(1, 2)) / max(a.size, 1)
        kept = np.sort(np.argsort(-score, kind="stable")[:keep_n])
        index = (kept[:, None] * unit + np.arange(unit)[None, :]).reshape(-1)
        for name, axis in g["members"]:
            arrays[name] = np.take(arrays[name], index, axis=axis)
        for node_name in g["group_attr"]:
            attrs[node_name] = keep_n * unit
        for name, axis in g["io"]:
            io_dims[(name, axis)] = keep_n
        new_groups.append(dict(g, size=keep_n))
    for i, init in enumerate(out.graph.initializer):
        out.graph.initializer[i].CopyFrom(numpy_helper.from_array(arrays[init.name], init.name))
    for node in out.graph.node:
        if node.name in attrs:
            for a in node.attribute:
                if a.name == "group":
                    a.CopyFrom(helper.make_attribute("group", attrs[node.name]))
    for vi in list(out.graph.input) + list(out.graph.output):
        for (name, axis), value in io_dims.items():
            if vi.name == name:
                vi.type.tensor_type.shape.dim[axis].dim_value = value
    del out.graph.value_info[:]  # stale intermediate shapes
    write_meta(out, dict(meta, prune_groups=new_groups))
    return out, {"method": "structured", "target_fraction": fraction, "groups": len(groups)}


def prune(model: onnx.ModelProto, spec: str) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Apply a pruning spec; the info records params, nonzeros, FLOPs and zlib size before and after."""
    method, fraction = parse_spec(spec)
    if method == "none":
        return model, {"method": "none"}
    before = flops_mod.count(model)
    pruned, info = (unstructured if method == "unstructured" else structured)(model, fraction)
    try:
        onnx.checker.check_model(pruned)
    except onnx.checker.ValidationError as exc:
        raise WorkloadError(f"{spec}: the pruned model fails onnx.checker: "
                            f"{str(exc).splitlines()[0]}") from None
    after = flops_mod.count(pruned)
    info.update(params_before=before.params, params_after=after.params,
                nonzero_params_after=after.nonzero_params, flops_before=before.flops, flops_after=after.flops,
                zlib_bytes_before=compressed_bytes(model), zlib_bytes_after=compressed_bytes(pruned))
    return pruned, info
