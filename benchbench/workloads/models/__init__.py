"""Reference models built in code: ``mobilenetv2``, ``resnet18`` (CNNs at 224²) and ``decoder`` (an LLM
with prefill and decode graphs). ``build_reference`` caches each build under ``cache_dir`` keyed by
name, params, builder version and onnx version, so a second call rebuilds nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import onnx

from ...errors import ConfigError
from .. import flops as flops_mod
from ..artifacts import ModelArtifact, files_digest, read_sidecar, sha256_json, write_sidecar
from ._graph import read_meta

log = logging.getLogger(__name__)

#: bump when a builder's output changes, so cached builds are not reused
BUILDER_VERSION = 1
REFERENCE_MODELS = ("mobilenetv2", "resnet18", "decoder")
_CNN_KEYS = {"width", "resolution", "num_classes", "seed"}


def _build_graphs(name: str, params: dict[str, Any]) -> dict[str, onnx.ModelProto]:
    from . import cnn, decoder

    if name in ("mobilenetv2", "resnet18"):
        unknown = set(params) - _CNN_KEYS
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))} for {name} "
                              f"(known: {', '.join(sorted(_CNN_KEYS))})", key="params")
        return {"main": cnn.build(name, **params)}
    if name == "decoder":
        unknown = set(params) - set(decoder.DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))} for decoder "
                              f"(known: {', '.join(sorted(decoder.DEFAULTS))})", key="params")
        try:
            return {role: decoder.build(role, **params) for role in ("prefill", "decode")}
        except ValueError as exc:
            raise ConfigError(f"decoder: {exc}", key="params") from None
    raise ConfigError(f"unknown reference model {name!r} (known: {', '.join(REFERENCE_MODELS)})", key="model")


def split_params(name: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Suite params → (builder params, runtime params for the agent backend)."""
    from . import decoder

    known = set(decoder.DEFAULTS) if name == "decoder" else _CNN_KEYS
    return ({k: v for k, v in params.items() if k in known},
            {k: v for k, v in params.items() if k not in known})


def build_reference(name: str, params: dict[str, Any] | None, cache_dir: Path) -> ModelArtifact:
    import onnx as onnx_mod

    params = dict(params or {})
    key = sha256_json({"name": name, "params": params, "builder": BUILDER_VERSION,
                       "onnx": onnx_mod.__version__})
    folder = Path(cache_dir) / "models" / f"{name}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None:
        found = {r: folder / f for r, f in cached["files"].items()}
        if all(p.is_file() for p in found.values()):
            return ModelArtifact(name=name, kind=cached["kind"], params=params, files=found,
                                 sha256=cached["sha256"], meta=cached["meta"], flops=cached["flops"],
                                 size_bytes=cached["size_bytes"], from_cache=True)
    t0 = time.perf_counter()
    graphs = _build_graphs(name, params)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for role, model in graphs.items():
        onnx.checker.check_model(model)
        files[role] = folder / f"{role}.onnx"
        files[role].write_bytes(model.SerializeToString(deterministic=True))
    first = next(iter(graphs.values()))
    meta = read_meta(first)
    work = flops_mod.count(first)
    size = sum(p.stat().st_size for p in files.values())
    digest = files_digest(files)
    write_sidecar(folder, {"name": name, "kind": meta["kind"], "params": params, "sha256": digest,
                           "files": {r: p.name for r, p in files.items()}, "meta": meta, "flops": work.flops,
                           "size_bytes": size, "build_s": time.perf_counter() - t0})
    log.info("built %s in %.2f s (%d bytes)", name, time.perf_counter() - t0, size)
    return ModelArtifact(name=name, kind=meta["kind"], params=params, files=files, sha256=digest, meta=meta,
                         flops=work.flops, size_bytes=size)
