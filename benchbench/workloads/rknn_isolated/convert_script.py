"""Runs INSIDE rknn-toolkit2's own virtual environment (Python 3.8+, numpy<=1.26): never imported by the host.

argv: REQUEST.json. The request names the ONNX file, the output ``.rknn``, the target platform, the
precision (``int8`` with a calibration ``dataset.txt``, or ``fp16``), and ``.npy`` validation inputs
(NCHW, one list per sample in model input order). The script builds and exports the ``.rknn``, runs the
toolkit's simulator (``init_runtime()`` without a target) on every sample, writes the first output of
each as ``out-<i>.npy`` next to the request, and writes ``result.json`` (timings, toolkit version).
Any failure is reported as ``{"ok": false, "stage": ..., "reason": ...}`` with exit status 3.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, NoReturn


def _fail(out_dir: str, stage: str, reason: str) -> NoReturn:
    with open(os.path.join(out_dir, "result.json"), "w") as fh:
        json.dump({"ok": False, "stage": stage, "reason": reason}, fh)
    sys.exit(3)


def main(request_path: str) -> None:
    with open(request_path) as fh:
        req = json.load(fh)
    out_dir = os.path.dirname(os.path.abspath(request_path))
    import numpy as np
    from rknn.api import RKNN
    try:
        from importlib.metadata import version
        toolkit = version("rknn-toolkit2")
    except ImportError:  # PackageNotFoundError: no metadata in odd installs; the version is informational
        toolkit = "unknown"
    rknn = RKNN(verbose=False)
    timings: dict[str, Any] = {}  # local annotation: never evaluated on 3.8
    t0 = time.perf_counter()
    rknn.config(target_platform=req["target"], optimization_level=int(req.get("optimization_level", 3)),
                quantized_algorithm=req.get("quantized_algorithm", "normal"))
    if rknn.load_onnx(model=req["onnx"]) != 0:
        _fail(out_dir, "load_onnx", "rknn-toolkit2 could not load the ONNX model")
    int8 = req["precision"] == "int8"
    if rknn.build(do_quantization=int8, dataset=req.get("dataset") if int8 else None) != 0:
        _fail(out_dir, "build", "rknn-toolkit2 build failed (see its log)")
    timings["build_s"] = time.perf_counter() - t0
    if rknn.export_rknn(req["out"]) != 0:
        _fail(out_dir, "export", "rknn-toolkit2 could not export the .rknn file")
    t1 = time.perf_counter()
    if rknn.init_runtime() != 0:
        _fail(out_dir, "init_runtime", "the rknn-toolkit2 simulator did not start")
    n = 0
    for i, paths in enumerate(req["samples"]):
        feeds = [np.load(p) for p in paths]
        outs = rknn.inference(inputs=feeds, data_format=["nchw" if f.ndim == 4 else "nhwc" for f in feeds])
        if not outs:
            _fail(out_dir, "inference", f"the simulator returned no outputs for sample {i}")
        np.save(os.path.join(out_dir, f"out-{i}.npy"), np.asarray(outs[0], dtype=np.float32))
        n += 1
    timings["simulate_s"] = time.perf_counter() - t1
    rknn.release()
    with open(os.path.join(out_dir, "result.json"), "w") as fh:
        json.dump({"ok": True, "toolkit": toolkit, "samples": n, "timings": timings}, fh)


if __name__ == "__main__":
    main(sys.argv[1])
