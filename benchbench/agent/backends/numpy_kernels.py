"""numpy reference kernels: BLAS GEMM and a STREAM-like triad. numpy has no BLAS path for fp16 or
int8, so those precisions are refused here (the ONNX Runtime backend runs them)."""

from __future__ import annotations

from typing import Any, Dict

from ..protocol import JobSpec
from . import Prepared, Unsupported

_DTYPES = {"fp64": "float64", "fp32": "float32"}


def _blas_info() -> Dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"threadpoolctl": "not installed"}
    return {"threadpools": [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                                  "architecture", "threading_layer")}
                            for p in threadpool_info()]}


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import numpy as np
    except ImportError as exc:
        raise Unsupported(f"numpy is not installed on this board: {exc}") from None
    dtype = _DTYPES.get(job.precision)
    if dtype is None:
        raise Unsupported(f"numpy has no fast {job.precision} path (no BLAS kernel); "
                          "use the onnxruntime backend")
    rng = np.random.default_rng(job.seed)
    extra = {"numpy": np.__version__, "blas": _blas_info()}
    if job.workload == "gemm":
        m, k, n = int(job.params["m"]), int(job.params["k"]), int(job.params["n"])
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        out = np.empty((m, n), dtype=dtype)
        return Prepared(fn=lambda: np.matmul(a, b, out=out), extra=extra,
                        implementation=f"numpy {np.__version__} matmul (BLAS) {dtype}",
                        timed_window="np.matmul(a, b, out=out) only; operands preallocated")
    if job.workload == "triad":
        size = int(job.params["n"])
        a = np.empty(size, dtype=dtype)
        b = rng.standard_normal(size).astype(dtype)
        c = rng.standard_normal(size).astype(dtype)
        scalar = dtype == "float64" and 3.0 or np.float32(3.0)

        def triad() -> None:
            np.multiply(c, scalar, out=a)
            np.add(a, b, out=a)

        return Prepared(fn=triad, extra=extra,
                        implementation=f"numpy {np.__version__} two-pass triad a=b+s*c (multiply(out=), "
                                       "add(out=)), single-threaded",
                        timed_window="two in-place numpy ufunc calls; bytes counted STREAM-style "
                                     "(3 arrays, no write-allocate)")
    raise Unsupported(f"numpy backend has no workload {job.workload!r}")
