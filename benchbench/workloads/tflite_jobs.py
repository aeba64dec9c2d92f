"""Bring-your-own ``.tflite`` models (``workload: byo, backend: litert``): one job per parameter combination,
run as-is by the agent's LiteRT backend. No variants are made (the converters are ONNX tools); the precision
label is the model's first input type, read from the TFLite flatbuffer itself so the label (part of the
job key) does not depend on what is installed on the controller.

Entry params: ``model: PATH`` (relative to the suite file), ``shapes`` ({NAME: [dims]} or ``NAME=1x128``
strings, for dynamic inputs), ``num_threads``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec
from ..config.suite import JobEntry, sweep
from ..errors import ConfigError
from .artifacts import sha256_file
from .byo import parse_shape
from .plan import ExpandContext, PlannedJob, Work, job_key
from .staging import BYO_FLAGS, resolve_path, safe_name, stage

_KEYS = ("model", "shapes", "num_threads")
#: TFLite schema enum TensorType → precision label
_PRECISION = {0: "fp32", 1: "fp16", 3: "uint8", 7: "int16", 9: "int8"}
AS_IS = "as-is"


#: suite workloads this expander owns (a .tflite file is a ``byo`` entry)
NAMES: tuple[str, ...] = ()


def handles(entry: JobEntry) -> bool:
    return entry.workload == "byo" and (entry.backend == "litert" or
                                        str(entry.params.get("model", "")).lower().endswith(".tflite"))


class _Flat:
    """Just enough of the FlatBuffers wire format to walk Model → subgraphs[0] → input tensors."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf

    def u32(self, pos: int) -> int:
        return int(struct.unpack_from("<I", self.buf, pos)[0])

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field ``index`` of the table at ``table`` (None: absent)."""
        vtable = table - int(struct.unpack_from("<i", self.buf, table)[0])
        if 4 + 2 * index >= struct.unpack_from("<H", self.buf, vtable)[0]:
            return None
        off = int(struct.unpack_from("<H", self.buf, vtable + 4 + 2 * index)[0])
        return table + off if off else None

    def ref(self, table: int, index: int) -> int | None:
        pos = self.field(table, index)
        return pos + self.u32(pos) if pos is not None else None

    def vector(self, pos: int) -> tuple[int, int]:
        """(length, position of the first element)."""
        return self.u32(pos), pos + 4


def input_types(path: Path) -> list[int]:
    """TensorType of each input of the first subgraph. Raises ValueError for anything not a TFLite model."""
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError("no TFL3 file identifier")
    fb = _Flat(buf)
    root = fb.u32(0)
    subgraphs = fb.ref(root, 2)
    if subgraphs is None or fb.vector(subgraphs)[0] == 0:
        raise ValueError("the model has no subgraph")
    first = fb.vector(subgraphs)[1]
    sub = first + fb.u32(first)
    tensors, inputs = fb.ref(sub, 0), fb.ref(sub, 1)
    if tensors is None or inputs is None:
        raise ValueError("the first subgraph lists no tensors or inputs")
    n_tensors, t0 = fb.vector(tensors)
    n_inputs, i0 = fb.vector(inputs)
    out = []
    for k in range(n_inputs):
        idx = int(struct.unpack_from("<i", buf, i0 + 4 * k)[0])
        if not 0 <= idx < n_tensors:
            raise ValueError(f"input index {idx} out of range")
        tpos = t0 + 4 * idx
        tensor = tpos + fb.u32(tpos)
        type_pos = fb.field(tensor, 1)
        out.append(buf[type_pos] if type_pos is not None else 0)  # absent: the schema default FLOAT32
    return out


def precision_label(path: Path) -> str:
    """``fp32``/``fp16``/``int8``/``uint8``/``int16`` from the first input's type; ``as-is`` otherwise."""
    types = input_types(path)
    return _PRECISION.get(types[0], AS_IS) if types else AS_IS


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """A .tflite runs as-is on the litert backend: no variants."""
    where = f"jobs[{i}]"
    suite_file = ctx.suite_file
    file_for_errors = None if suite_file == BYO_FLAGS else suite_file
    if entry.backend not in (None, "litert"):
        raise ConfigError(f"a .tflite model runs on the litert backend, not {entry.backend!r}",
                          file=file_for_errors, key=f"{where}.backend")
    unknown = sorted(set(entry.params) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]!r} for a .tflite model (known: {', '.join(_KEYS)})",
                          file=file_for_errors, key=f"{where}.params.{unknown[0]}")
    if "model" not in entry.params:
        raise ConfigError("byo needs params.model: PATH to a .tflite file", file=file_for_errors,
                          key=f"{where}.params.model")
    path = resolve_path(str(entry.params["model"]), suite_file)
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", file=file_for_errors, key=f"{where}.params.model")
    try:
        precision = precision_label(path)
    except (ValueError, struct.error, IndexError) as exc:
        raise ConfigError(f"{path} is not a readable TFLite model: {exc}", file=file_for_errors,
                          key=f"{where}.params.model") from None
    if entry.precisions and entry.precisions != [precision]:
        raise ConfigError(f"a .tflite model runs as-is ({precision}): no other precision variants are made",
                          file=file_for_errors, key=f"{where}.precisions")
    if entry.pruning != ["none"]:
        raise ConfigError("pruning does not apply to a .tflite model (it runs as-is)", file=file_for_errors,
                          key=f"{where}.pruning")
    sha = sha256_file(path)
    staged = stage(path, f"{safe_name(path.stem)}-{sha[:12]}.tflite", ctx.cache_dir.resolve() / "deploy")
    workload = f"byo:{safe_name(path.stem)}"
    meta = {"status": "ok", "model": path.stem, "model_kind": "tflite", "model_sha256": sha,
            "precision": precision, "pruning": "none", "sha256": sha, "size_bytes": path.stat().st_size,
            "tool": "as-is", "precision_source": "first input tensor type in the .tflite flatbuffer",
            "primary_role": "main"}
    fixed = {"shapes": entry.params["shapes"]} if "shapes" in entry.params else {}
    rest = {k: v for k, v in entry.params.items() if k not in ("model", "shapes")}
    out: list[PlannedJob] = []
    for combo in sweep(rest):
        params: dict[str, Any] = {"model": str(entry.params["model"]), **combo}
        if fixed:
            shapes = fixed["shapes"]
            params["input_shapes"] = (dict(parse_shape(s) for s in shapes) if isinstance(shapes, list)
                                      else {str(k): [int(d) for d in v] for k, v in shapes.items()})
        key = job_key(workload, "litert", precision, "none", params)
        if not ctx.claim(key):
            continue
        spec = JobSpec(job_key=key, workload=workload, backend="litert", precision=precision, params=params,
                       artifact=staged.name, timing=ctx.timing(entry), timeout_s=entry.timeout_s,
                       seed=entry.seed)
        out.append(PlannedJob(spec=spec, work=Work(item_unit="inference"), artifact_path=staged,
                              meta=dict(meta)))
    return out
