"""Bring-your-own ONNX models: the model as given is the baseline; inputs are given, never invented.

``load_byo(path, shapes, fixed, inputs_npz, cache_dir)`` checks the file and resolves every dynamic input
dimension (``--shape NAME=1x3x224x224``) for the *feeds only*: the artifact that runs is the user's file,
byte for byte (a model with external data is inlined into one file, and that transform is recorded).
Where each input's values come from is decided here (see ``byo_inputs``). The returned ``ModelArtifact``
(kind ``byo``) carries ``meta["as_given"]``: file, sha256, node count, size, opset and the precision the
model already has (``int8`` for a pre-quantized graph), which is what its reference job is labelled.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..errors import ConfigError
from . import applicability, byo_inputs
from . import flops as flops_mod
from .artifacts import ModelArtifact, read_sidecar, sha256_file, sha256_json, write_sidecar

#: re-exported for the CLI and suite parsers
parse_input = byo_inputs.parse_input


def parse_shape(text: str) -> tuple[str, list[int]]:
    """``NAME=1x3x224x224`` → (NAME, [1, 3, 224, 224]); every dimension at least 1."""
    name, sep, dims = text.partition("=")
    try:
        shape = [int(d) for d in dims.lower().split("x")] if dims else []
    except ValueError:
        shape = [-1]
    if not sep or not name or any(d < 1 for d in shape) or any(d > 1 << 31 for d in shape):
        raise ConfigError(f"--shape {text!r}: expected NAME=DIMxDIM... with positive integers", key="shape")
    return name, shape


def _inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _np_dtype(vi: onnx.ValueInfoProto) -> str:
    return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)))


def _dims(vi: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in vi.type.tensor_type.shape.dim]


def _resolve_shapes(inputs: list[onnx.ValueInfoProto], shapes: dict[str, list[int]]) -> dict[str, list[int]]:
    """Feed shape per input: the model's fixed dims, ``--shape`` for the dynamic ones (never over a fixed
    one)."""
    resolved: dict[str, list[int]] = {}
    for vi in inputs:
        dims = _dims(vi)
        if vi.name in shapes:
            given = shapes[vi.name]
            if len(given) != len(dims):
                raise ConfigError(f"--shape {vi.name}: rank {len(given)} but the model's input has "
                                  f"rank {len(dims)} {dims}", key="shape")
            clash = [(i, d, g) for i, (d, g) in enumerate(zip(dims, given))
                     if isinstance(d, int) and d > 0 and d != g]
            if clash:
                i, d, g = clash[0]
                raise ConfigError(f"--shape {vi.name}: dimension {i} is fixed to {d} by the model, not {g} "
                                  f"(model shape {dims})", key="shape")
            resolved[vi.name] = list(given)
        elif all(isinstance(d, int) and d > 0 for d in dims):
            resolved[vi.name] = [int(d) for d in dims]
        else:
            dyn = next(d for d in dims if not isinstance(d, int) or d <= 0)
            example = "x".join(str(d) if isinstance(d, int) and d > 0 else "N" for d in dims)
            raise ConfigError(f"input {vi.name!r} has dynamic dimension {dyn!r} (shape {dims}); "
                              f"give it one with --shape {vi.name}={example}", key="shape")
    return resolved


def _uses_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def load_byo(path: Path | str, shapes: dict[str, list[int]] | None = None,
             fixed: dict[str, Any] | None = None, inputs_npz: Path | str | None = None,
             cache_dir: Path | str = ".", seed: int = 0) -> ModelArtifact:
    path = Path(path)
    shapes, fixed = dict(shapes or {}), dict(fixed or {})
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", key="model")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001  protobuf DecodeError, external-data OSError…: all mean "not a usable model"
        raise ConfigError(f"{path} is not a readable ONNX model: {type(exc).__name__}: {str(exc)[:200]}",
                          key="model") from None
    if not model.graph.node:
        raise ConfigError(f"{path} is not a readable ONNX model: it has no graph nodes", key="model")
    inputs = _inputs(model)
    names = {i.name for i in inputs}
    for what, given in (("--shape", shapes), ("--input", fixed)):
        unknown = set(given) - names
        if unknown:
            raise ConfigError(f"{what} names unknown input(s) {', '.join(sorted(unknown))} "
                              f"(model inputs: {', '.join(sorted(names))})", key=what.lstrip("-"))
    resolved = _resolve_shapes(inputs, shapes)
    dtypes = {vi.name: _np_dtype(vi) for vi in inputs}
    npz_sha, npz_names, npz_count = (byo_inputs.npz_arrays(Path(inputs_npz), resolved, dtypes)
                                     if inputs_npz is not None else (None, set(), 0))
    sources = byo_inputs.check_sources(resolved, dtypes, fixed, npz_names)
    source_sha = sha256_file(path)
    params = {"source": str(path), "source_sha256": source_sha, "shapes": resolved, "dtypes": dtypes,
              "fixed": fixed, "npz": str(inputs_npz) if inputs_npz is not None else None,
              "npz_sha256": npz_sha, "npz_samples": npz_count, "seed": seed, "input_sources": sources}
    key = sha256_json({k: v for k, v in params.items() if k not in ("source", "npz")})
    folder = Path(cache_dir) / "models" / f"byo-{path.stem}-{key[:16]}"
    cached = read_sidecar(folder)
    main = folder / "main.onnx"
    if cached is not None and main.is_file():
        return ModelArtifact(name=cached["name"], kind="byo", params=params, files={"main": main},
                             sha256=cached["sha256"], meta=cached["meta"], flops=cached["flops"],
                             size_bytes=cached["size_bytes"], from_cache=True)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    external = _uses_external_data(onnx.load(str(path), load_external_data=False))
    if external:  # deploy one self-contained file: same graph, weights inlined (recorded as a transform)
        onnx.save(model, str(main))
    else:
        shutil.copyfile(path, main)  # the user's bytes: what runs is what they gave
    as_given = applicability.describe_model(model)
    as_given.update(file=path.name, sha256=source_sha, size_bytes=main.stat().st_size,
                    transforms=["external data inlined into one file"] if external else [])
    art = ModelArtifact(name=path.stem, kind="byo", params=params, files={"main": main},
                        sha256=sha256_file(main),
                        meta={"name": path.stem, "kind": "byo", "as_given": as_given},
                        flops=_flops(model, resolved), size_bytes=main.stat().st_size)
    _smoke_run(art)
    write_sidecar(folder, {"name": art.name, "sha256": art.sha256, "files": {"main": "main.onnx"},
                           "meta": art.meta, "flops": art.flops, "size_bytes": art.size_bytes,
                           "params": params})
    return art


def _flops(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> int:
    """FLOPs at the feed shapes (counted on an in-memory copy with those shapes fixed)."""
    static = onnx.ModelProto()
    static.CopyFrom(model)
    for vi in static.graph.input:
        for d, value in zip(vi.type.tensor_type.shape.dim, shapes.get(vi.name, [])):
            d.Clear()
            d.dim_value = value
    try:
        return flops_mod.count(static).flops
    except Exception:  # noqa: BLE001  onnx shape inference rejects some exporters' graphs; FLOPs are then unknown (0)
        return 0


def sample_feeds(model: ModelArtifact, purpose: str, seed: int, n: int) -> list[dict[str, np.ndarray]]:
    return byo_inputs.sample_feeds(model.params, purpose, seed, n)


def _smoke_run(model: ModelArtifact) -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(model.path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  ORT's load errors are untyped; an unloadable file is bad input (exit 2)
        raise ConfigError(f"{model.params['source']}: onnxruntime {ort.__version__} cannot load it: "
                          f"{str(exc).splitlines()[0][:300]}", key="model") from None
    feed = sample_feeds(model, "validation", int(model.params["seed"]), 1)[0]
    try:
        sess.run(None, feed)
    except Exception as exc:  # noqa: BLE001  the model's own error, with the hint
        raise ConfigError(f"{model.params['source']} rejected the given inputs: "
                          f"{str(exc).splitlines()[0][:300]}",
                          key="input", hint="supply control values with --input NAME=VALUE or real data with "
                                            "--inputs DATA.npz") from None


def agent_inputs(model: ModelArtifact) -> dict[str, Any]:
    """The job params that make the board's feeds match the controller's choice of sources."""
    p = model.params
    out: dict[str, Any] = {"input_shapes": p["shapes"]}
    fixed = {k: v for k, v in (p.get("fixed") or {}).items() if not byo_inputs.is_generator(v)}
    gens = {k: v for k, v in (p.get("fixed") or {}).items() if byo_inputs.is_generator(v)}
    if fixed:
        out["fixed_inputs"] = fixed
    if gens:
        out["input_gen"] = gens
    return out
