"""Records for built models and their variants, plus the content-addressed cache helpers.

A model is one or more ONNX graphs keyed by role: ``main`` for single-graph models, ``prefill`` and
``decode`` for the decoder LLM. Cache entries are directories named by a sha256 key with a JSON
sidecar written last (atomically), so a half-written entry is never taken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the board-side deploy check and the caches hash files the same way, with one function
from ..deploy.boardside.deploy_ops import sha256_file as sha256_file  # noqa: PLC0414 (re-export, mypy)

SIDECAR = "artifact.json"


def sha256_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def files_digest(files: dict[str, Path]) -> str:
    return sha256_json({role: sha256_file(p) for role, p in sorted(files.items())})


def tool_versions() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime

    versions = {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__}
    try:
        import onnx_ir

        versions["onnx_ir"] = onnx_ir.__version__
    except ImportError:
        versions["onnx_ir"] = "missing"
    return versions


@dataclass(frozen=True)
class ModelArtifact:
    name: str
    #: ``cnn``, ``llm`` or ``byo``
    kind: str
    params: dict[str, Any]
    files: dict[str, Path]
    sha256: str
    meta: dict[str, Any]
    flops: int
    size_bytes: int
    from_cache: bool = False

    @property
    def path(self) -> Path:
        """The primary graph (``main``, or ``prefill`` for an LLM)."""
        return self.files.get("main") or self.files["prefill"]


@dataclass(frozen=True)
class VariantArtifact:
    model: str
    precision: str
    pruning: str
    target_arch: str
    #: ``ok`` or ``failed`` (validation failed: store the job as failed with ``reason``, do not time it)
    status: str
    files: dict[str, Path]
    sha256: str
    recipe: dict[str, Any]
    tool_versions: dict[str, str]
    validation: dict[str, Any]
    size_bytes: int
    flops: int
    reason: str | None = None
    from_cache: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.files.get("main") or self.files["prefill"]

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "precision": self.precision, "pruning": self.pruning,
                "target_arch": self.target_arch, "status": self.status, "reason": self.reason,
                "files": {k: v.name for k, v in self.files.items()}, "sha256": self.sha256,
                "recipe": self.recipe, "tool_versions": self.tool_versions, "validation": self.validation,
                "size_bytes": self.size_bytes, "flops": self.flops, "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> VariantArtifact:
        data = dict(data)
        data["files"] = {k: folder / v for k, v in data["files"].items()}
        return cls(from_cache=True, **data)


def write_sidecar(folder: Path, data: dict[str, Any]) -> None:
    tmp = folder / (SIDECAR + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, indent=1, default=str, allow_nan=True))
    os.replace(tmp, folder / SIDECAR)


def read_sidecar(folder: Path) -> dict[str, Any] | None:
    path = folder / SIDECAR
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
