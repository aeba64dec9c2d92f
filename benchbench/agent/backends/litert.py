"""LiteRT backend (``ai-edge-litert``, the successor of tflite-runtime) for ``.tflite`` models.

Imported lazily: without ``ai_edge_litert`` the job is ``unsupported`` with the reason. Dynamic input
dims (-1 in ``shape_signature``) need ``params["input_shapes"]`` {name: shape}; they are resized before
tensors are allocated. Inputs are seeded; ``params["num_threads"]`` sets the interpreter's threads.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed, artifact_path


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("ai-edge-litert")
    except ImportError:  # PackageNotFoundError (a vendored copy without metadata): version unknown
        return "unknown"


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise Unsupported(f"ai-edge-litert is not installed for this board's Python: {exc}") from None
    path = artifact_path(job, artifacts_dir, "the litert backend needs a .tflite artifact")
    threads = job.params.get("num_threads")
    try:
        interp = Interpreter(model_path=path, num_threads=int(threads) if threads else None)
    except (ValueError, RuntimeError) as exc:
        raise WorkloadFailed(f"LiteRT could not load {job.artifact}: {exc}") from None
    shapes: Dict[str, List[int]] = job.params.get("input_shapes") or {}
    for det in interp.get_input_details():
        sig = list(det.get("shape_signature", det["shape"]))
        if det["name"] in shapes:
            interp.resize_tensor_input(det["index"], shapes[det["name"]])
        elif any(d < 0 for d in sig):
            raise WorkloadFailed("input {!r} has dynamic shape {}; give params.input_shapes"
                                 .format(det["name"], sig))
    try:
        interp.allocate_tensors()
    except RuntimeError as exc:  # e.g. unresolved custom ops
        raise WorkloadFailed(f"LiteRT could not allocate tensors: {str(exc).splitlines()[0]}") from None
    rng = np.random.default_rng(job.seed)
    for det in interp.get_input_details():
        dtype: Any = det["dtype"]
        if np.dtype(dtype).kind == "f":
            value = rng.standard_normal(det["shape"]).astype(dtype)
        else:
            value = rng.integers(0, 100, size=det["shape"]).astype(dtype)
        interp.set_tensor(det["index"], value)
    try:
        interp.invoke()
    except RuntimeError as exc:
        raise WorkloadFailed(f"LiteRT invoke failed: {str(exc).splitlines()[0]}") from None
    version = _version()
    extra = {"ai_edge_litert": version, "num_threads": threads or "default",
             "inputs": {d["name"]: [[int(x) for x in d["shape"]], np.dtype(d["dtype"]).name]
                        for d in interp.get_input_details()}}
    return Prepared(fn=interp.invoke, extra=extra,
                    implementation="ai-edge-litert {} Interpreter ({} threads)"
                                   .format(version, threads or "default"),
                    timed_window="Interpreter.invoke() only; inputs set once before timing, outputs not read")
