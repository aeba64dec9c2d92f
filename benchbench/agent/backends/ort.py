"""ONNX Runtime backend: runs any .onnx artifact with seeded inputs on the provider the job asks for.

Inputs are generated from the session's own input metadata (seeded), unless the job passes explicit
shapes/values. Spinning is configurable because on small machines a spinning pool from another session
skews timings; the setting is recorded either way.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed, artifact_path, ort_providers

_NP_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int32)": "int32", "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def make_feeds(sess: Any, job: JobSpec, np: Any, artifacts_dir: str = "") -> Dict[str, Any]:
    rng = np.random.default_rng(job.seed)
    shapes: Dict[str, List[int]] = job.params.get("input_shapes", {}) or {}
    feeds: Dict[str, Any] = {}
    for inp in sess.get_inputs():
        dtype = _NP_TYPES.get(inp.type)
        if dtype is None:
            raise Unsupported(f"input {inp.name!r} has type {inp.type}, which the agent cannot generate")
        shape = shapes.get(inp.name) or inp.shape
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise WorkloadFailed(f"input {inp.name!r} has dynamic shape {shape}; give it a static shape")
        if dtype.startswith("float"):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == "uint8":
            feeds[inp.name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        elif dtype == "int8":
            feeds[inp.name] = rng.integers(-128, 128, size=shape, dtype=np.int8)
        elif dtype == "bool":
            feeds[inp.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[inp.name] = np.zeros(shape, dtype=dtype)
    _apply_generators(feeds, job, rng)
    _apply_given_inputs(feeds, job, np, artifacts_dir)
    return feeds


def _apply_generators(feeds: Dict[str, Any], job: JobSpec, rng: Any) -> None:
    """``input_gen`` {name: {gen: randint|uniform|normal, a, b}}: the generator the user named for an input
    (randint bounds inclusive), so the board's feed follows the same rule as the controller's validation."""
    for name, spec in (job.params.get("input_gen") or {}).items():
        if name not in feeds:
            raise WorkloadFailed("generated input {!r} is not an input of the model ({})"
                                 .format(name, ", ".join(feeds)))
        ref = feeds[name]
        kind, a, b = spec.get("gen"), float(spec.get("a", 0.0)), float(spec.get("b", 1.0))
        if kind == "randint":
            value = rng.integers(int(a), int(b) + 1, size=ref.shape)
        elif kind == "uniform":
            value = rng.uniform(a, b, size=ref.shape)
        elif kind == "normal":
            value = a + b * rng.standard_normal(ref.shape)
        else:
            raise WorkloadFailed(f"unknown input generator {kind!r} for input {name!r}")
        feeds[name] = value.astype(ref.dtype)


def _apply_given_inputs(feeds: Dict[str, Any], job: JobSpec, np: Any, artifacts_dir: str) -> None:
    """``fixed_inputs`` {name: number or list} for control inputs (a sample rate, a mode flag), and
    ``inputs_npz`` (a file in the artifacts directory) for real data: its first sample per input."""
    for name, value in (job.params.get("fixed_inputs") or {}).items():
        if name not in feeds:
            raise WorkloadFailed("fixed input {!r} is not an input of the model ({})"
                                 .format(name, ", ".join(feeds)))
        ref = feeds[name]
        arr = np.asarray(value, dtype=ref.dtype)
        feeds[name] = (arr.reshape(ref.shape) if arr.size == ref.size
                       else np.full(ref.shape, arr.reshape(-1)[0], dtype=ref.dtype))
    npz_name = job.params.get("inputs_npz")
    if npz_name:
        path = os.path.join(artifacts_dir, npz_name)
        try:
            data = np.load(path)
        except (OSError, ValueError) as exc:
            raise WorkloadFailed(f"cannot read inputs file {npz_name}: {exc}") from None
        with data:
            for name in data.files:
                if name not in feeds:
                    raise WorkloadFailed(f"inputs file array {name!r} is not a model input")
                arr = data[name]
                if arr.shape != feeds[name].shape:  # [N, *shape]: take the first sample
                    arr = arr[0]
                feeds[name] = arr.astype(feeds[name].dtype).reshape(feeds[name].shape)


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as exc:
        raise Unsupported(f"onnxruntime is not installed for this board's Python: {exc}") from None
    path = artifact_path(job, artifacts_dir, "onnxruntime job without a model artifact")
    providers, pinfo = ort_providers.select(ort, job)
    threads = int(job.params.get("intra_op_threads", 0))
    spinning = "1" if job.params.get("allow_spinning", True) else "0"

    def options() -> Any:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        so.log_severity_level = 3
        return so

    try:
        sess = ort.InferenceSession(path, sess_options=options(), providers=providers)
    except Exception as exc:  # noqa: BLE001  ORT raises its own untyped Fail/InvalidGraph errors: surface the message
        raise WorkloadFailed(f"onnxruntime could not load {job.artifact}: {exc}") from None
    ort_providers.record_used(sess, pinfo, job)
    feeds = make_feeds(sess, job, np, artifacts_dir)
    try:
        sess.run(None, feeds)
    except Exception as exc:  # noqa: BLE001  the model's own error, with a hint: generated inputs may be invalid for it
        raise WorkloadFailed(f"the model rejected the generated inputs: {str(exc).splitlines()[0]} (supply "
                             "real inputs or values)") from None
    out_names = [o.name for o in sess.get_outputs()]
    extra = {
        **pinfo,
        "onnxruntime": ort.__version__,
        "intra_op_num_threads": threads or "default (one per physical core)",
        "allow_spinning": spinning == "1",
        "inputs": {k: [list(v.shape), str(v.dtype)] for k, v in feeds.items()},
    }
    return Prepared(fn=lambda: sess.run(out_names, feeds), extra=extra,
                    implementation="onnxruntime {} {}"
                                   .format(ort.__version__, "+".join(sess.get_providers())),
                    timed_window="session.run incl. input binding and output copy to numpy (Python API)",
                    after_timing=lambda: ort_providers.node_placement(ort, path, options, providers, feeds))
