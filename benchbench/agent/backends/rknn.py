"""RKNN backend for Rockchip NPUs (RK3588…): runs a ``.rknn`` model with rknn-toolkit-lite2.

``rknnlite`` is imported lazily; on a board without it (or without ``librknnrt.so`` from the board
image) the job is ``unsupported`` with the reason. The ``.rknn`` file is converted on the controller by
rknn-toolkit2 (its own environment). Inputs: ``params["inputs"]`` = [{"shape": [...], "dtype": "uint8"}...]
in model input order (rknnlite exposes no input metadata before inference); NHWC for images.
"""

from __future__ import annotations

import os
from typing import Any, List

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed

_CORE_MASKS = {"auto": "NPU_CORE_AUTO", "0": "NPU_CORE_0", "1": "NPU_CORE_1", "2": "NPU_CORE_2",
               "0_1": "NPU_CORE_0_1", "0_1_2": "NPU_CORE_0_1_2"}


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import numpy as np
        from rknnlite.api import RKNNLite
    except ImportError as exc:
        raise Unsupported(f"rknn-toolkit-lite2 (rknnlite) is not installed for this board's Python: "
                          f"{exc}") from None
    if not job.artifact or not job.artifact.endswith(".rknn"):
        raise WorkloadFailed(f"the rknn backend needs a .rknn artifact, got {job.artifact!r}")
    specs: List[Any] = list(job.params.get("inputs") or [])
    if not specs:
        raise WorkloadFailed("the rknn backend needs params.inputs (shape and dtype of each model input)")
    rknn = RKNNLite(verbose=False)
    if rknn.load_rknn(os.path.join(artifacts_dir, job.artifact)) != 0:
        raise WorkloadFailed(f"rknnlite could not load {job.artifact}")
    core = _CORE_MASKS.get(str(job.params.get("core_mask", "auto")), "NPU_CORE_AUTO")
    try:
        ret = rknn.init_runtime(core_mask=getattr(RKNNLite, core))
    except Exception as exc:  # noqa: BLE001  librknnrt missing or no NPU: raised from the vendor library
        rknn.release()
        raise Unsupported(f"the RKNN runtime did not start (librknnrt.so / NPU driver): {exc}") from None
    if ret != 0:
        rknn.release()
        raise Unsupported(f"the RKNN runtime did not start (init_runtime returned {ret})")
    rng = np.random.default_rng(job.seed)
    feeds = []
    for spec in specs:
        dtype = np.dtype(spec.get("dtype", "uint8"))
        if dtype.kind == "f":
            feeds.append(rng.standard_normal(spec["shape"]).astype(dtype))
        else:
            feeds.append(rng.integers(0, 256 if dtype.kind == "u" else 128, size=spec["shape"]).astype(dtype))
    if rknn.inference(inputs=feeds) is None:
        rknn.release()
        raise WorkloadFailed("rknnlite inference returned no outputs for the generated inputs")
    return Prepared(fn=lambda: rknn.inference(inputs=feeds), teardown=rknn.release,
                    extra={"core_mask": core, "inputs": [dict(s) for s in specs]},
                    implementation=f"rknn-toolkit-lite2 RKNNLite ({core})",
                    timed_window="RKNNLite.inference(inputs) incl. input upload and output download")
