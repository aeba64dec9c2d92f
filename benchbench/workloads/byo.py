"""Bring-your-own ONNX models: infer inputs, resolve dynamic dims, fixed control inputs, real data.

``load_byo(path, shapes, fixed, inputs_npz, cache_dir)`` checks the file, makes every input shape
static (``--shape NAME=1x3x224x224`` overrides), stores a static-shaped copy in the cache and returns a
``ModelArtifact`` of kind ``byo``. Control inputs that must hold one value (a sample rate, a mode flag)
come from ``--input NAME=VALUE``; real samples from an ``.npz`` (arrays named like the inputs, either
of the input's shape or with a leading sample axis), which also serve as int8 calibration data.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..errors import ConfigError, WorkloadError
from . import flops as flops_mod
from .artifacts import ModelArtifact, files_digest, read_sidecar, sha256_file, sha256_json, write_sidecar

_GENERATABLE = {"float32", "float16", "float64", "int8", "uint8", "int32", "int64", "bool"}


def parse_shape(text: str) -> tuple[str, list[int]]:
    """``NAME=1x3x224x224`` → (NAME, [1, 3, 224, 224])."""
    name, sep, dims = text.partition("=")
    try:
        shape = [int(d) for d in dims.lower().split("x")] if dims else []
    except ValueError:
        shape = [-1]
    if not sep or not name or any(d < 0 for d in shape):
        raise ConfigError(f"--shape {text!r}: expected NAME=DIMxDIM... with non-negative integers", key="shape")
    return name, shape


def parse_input(text: str) -> tuple[str, list[float] | float]:
    """``NAME=VALUE`` or ``NAME=V1,V2,...`` → (NAME, value)."""
    name, sep, raw = text.partition("=")
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if not sep or not name or not values:
        raise ConfigError(f"--input {text!r}: expected NAME=NUMBER or NAME=N1,N2,...", key="input")
    return name, values[0] if len(values) == 1 else values


def _inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _np_dtype(vi: onnx.ValueInfoProto) -> str:
    return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)))


def load_byo(path: Path | str, shapes: dict[str, list[int]] | None = None,
             fixed: dict[str, Any] | None = None, inputs_npz: Path | str | None = None,
             cache_dir: Path | str = ".", seed: int = 0) -> ModelArtifact:
    path = Path(path)
    shapes, fixed = dict(shapes or {}), dict(fixed or {})
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", key="model")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, external-data OSError…: all mean "not a usable model"
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
    resolved: dict[str, list[int]] = {}
    dtypes: dict[str, str] = {}
    for vi in inputs:
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]
        dtypes[vi.name] = _np_dtype(vi)
        if vi.name in shapes:
            if len(shapes[vi.name]) != len(dims):
                raise ConfigError(f"--shape {vi.name}: rank {len(shapes[vi.name])} but the model's input has "
                                  f"rank {len(dims)} {dims}", key="shape")
            resolved[vi.name] = shapes[vi.name]
        elif all(isinstance(d, int) and d > 0 for d in dims):
            resolved[vi.name] = [int(d) for d in dims]
        else:
            dyn = next(d for d in dims if not isinstance(d, int) or d <= 0)
            example = "x".join(str(d) if isinstance(d, int) and d > 0 else "N" for d in dims)
            raise ConfigError(f"input {vi.name!r} has dynamic dimension {dyn!r} (shape {dims}); "
                              f"give it one with --shape {vi.name}={example}", key="shape")
        if vi.name not in fixed and dtypes[vi.name] not in _GENERATABLE:
            raise ConfigError(f"input {vi.name!r} has type {dtypes[vi.name]}, which cannot be generated; "
                              f"pass --inputs DATA.npz", key="inputs")
        for d, value in zip(vi.type.tensor_type.shape.dim, resolved[vi.name]):
            d.Clear()
            d.dim_value = value
    npz_info = _check_npz(Path(inputs_npz), resolved, dtypes) if inputs_npz is not None else None
    params = {"source": str(path), "source_sha256": sha256_file(path), "shapes": resolved, "dtypes": dtypes,
              "fixed": fixed, "npz": str(inputs_npz) if inputs_npz is not None else None,
              "npz_sha256": npz_info, "seed": seed}
    key = sha256_json(params)
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
    onnx.save(model, str(main))
    art = ModelArtifact(name=path.stem, kind="byo", params=params, files={"main": main},
                        sha256=files_digest({"main": main}), meta={"name": path.stem, "kind": "byo"},
                        flops=_flops(model), size_bytes=main.stat().st_size)
    _smoke_run(art)
    write_sidecar(folder, {"name": art.name, "sha256": art.sha256, "files": {"main": "main.onnx"}, "meta": art.meta,
                           "flops": art.flops, "size_bytes": art.size_bytes, "params": params})
    return art


def _flops(model: onnx.ModelProto) -> int:
    try:
        return flops_mod.count(model).flops
    except Exception:  # onnx shape inference rejects some exporters' graphs; FLOPs are then unknown (0)
        return 0


def _check_npz(path: Path, shapes: dict[str, list[int]], dtypes: dict[str, str]) -> str:
    if not path.is_file():
        raise ConfigError(f"inputs file not found: {path}", key="inputs")
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile/pickle/ValueError: all mean "not an npz of arrays"
        raise ConfigError(f"{path} is not a readable .npz: {exc}", key="inputs") from None
    for name, arr in arrays.items():
        if name not in shapes:
            raise ConfigError(f"{path}: array {name!r} matches no model input ({', '.join(sorted(shapes))})",
                              key="inputs")
        if list(arr.shape) != shapes[name] and list(arr.shape[1:]) != shapes[name]:
            raise ConfigError(f"{path}: array {name!r} has shape {list(arr.shape)}, expected {shapes[name]} or "
                              f"[N, {', '.join(map(str, shapes[name]))}]", key="inputs")
    return sha256_file(path)


def _fixed_value(value: Any, shape: list[int], dtype: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    return arr.reshape(shape) if arr.size == int(np.prod(shape)) else np.full(shape, arr.reshape(-1)[0], dtype=dtype)


def sample_feeds(model: ModelArtifact, purpose: str, seed: int, n: int) -> list[dict[str, np.ndarray]]:
    """``n`` feeds: npz samples where given (calibration takes the first 3/4, validation the rest when there
    are at least 4), fixed values for control inputs, seeded values for the remaining inputs."""
    p = model.params
    shapes: dict[str, list[int]] = p["shapes"]
    dtypes: dict[str, str] = p["dtypes"]
    real: dict[str, list[np.ndarray]] = {}
    if p.get("npz"):
        with np.load(p["npz"]) as data:
            for name in data.files:
                arr = data[name]
                samples = [arr] if list(arr.shape) == shapes[name] else list(arr)
                if len(samples) >= 4:
                    cut = len(samples) * 3 // 4
                    samples = samples[:cut] if purpose == "calibration" else samples[cut:]
                real[name] = [s.astype(dtypes[name]) for s in samples]
    rng = np.random.default_rng(seed)
    feeds = []
    for i in range(n):
        feed: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            dtype = dtypes[name]
            if name in p["fixed"]:
                feed[name] = _fixed_value(p["fixed"][name], shape, dtype)
            elif name in real:
                feed[name] = real[name][i % len(real[name])]
            elif dtype.startswith("float"):
                feed[name] = rng.standard_normal(shape).astype(dtype)
            else:
                feed[name] = np.zeros(shape, dtype=dtype)
        feeds.append(feed)
    return feeds


def _smoke_run(model: ModelArtifact) -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(model.path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's load errors are untyped
        raise WorkloadError(f"onnxruntime cannot load {model.name}: {str(exc).splitlines()[0]}") from None
    feed = sample_feeds(model, "validation", int(model.params["seed"]), 1)[0]
    try:
        sess.run(None, feed)
    except Exception as exc:  # the model's own error, with the hint
        raise WorkloadError(f"{model.name} rejected the generated inputs: {str(exc).splitlines()[0]}",
                            hint="supply control values with --input NAME=VALUE or real data with "
                                 "--inputs DATA.npz") from None
