"""Real .tflite models from a PyPI wheel: mediapipe 0.10.21 (Apache 2.0) ships 14 under
``mediapipe/modules/``. Installed with ``pip install --no-deps mediapipe==0.10.21``: only the files are
needed, so the package is located without importing it (its deps — opencv, jax, protobuf — are absent)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SETUP = "pip install ai-edge-litert && pip install --no-deps mediapipe==0.10.21"


def mediapipe_modules() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    assert spec is not None and spec.origin, f"mediapipe's .tflite files are missing: {SETUP}"
    return Path(spec.origin).parent / "modules"


def face_detection() -> Path:
    path = mediapipe_modules() / "face_detection" / "face_detection_short_range.tflite"
    assert path.is_file(), f"{path} missing: {SETUP}"
    return path
