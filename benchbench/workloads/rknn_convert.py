"""RKNN variants for Rockchip NPUs: ONNX → ``.rknn`` on the controller with rknn-toolkit2, fidelity from its
simulator.

rknn-toolkit2 pins old torch/onnx/numpy, so it lives in its own virtual environment (made by
``scripts/setup-rknn-venv.sh``) and is only ever run as a subprocess: the interpreter comes from the
``rknn_python`` argument or ``$BENCHBENCH_RKNN_PYTHON``. The host side here down-converts the opset (the
toolkit refuses opset > 19), writes a seeded calibration set (NCHW ``.npy`` + ``dataset.txt``) and
held-out validation inputs, runs ``rknn_isolated/convert_script.py`` (build + export + simulator), and
compares the simulator's outputs with ONNX Runtime's fp32 outputs using the shared fidelity metrics.

The source graph is the model's fp32 variant (pre-processed, pruned as asked), so RKNN variants combine
with pruning like the ONNX ones. Results are cached by content like ``variants.make_variant``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..errors import ConfigError, WorkloadError
from . import feeds as feeds_mod
from .artifacts import ModelArtifact, VariantArtifact, files_digest, read_sidecar, sha256_json, write_sidecar
from .validation import ValidationFailed, fidelity, reference_outputs
from .variants import make_variant

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "fp16")
DEFAULT_TARGET = "rk3588"
ENV_VAR = "BENCHBENCH_RKNN_PYTHON"
MISSING_REASON = "rknn-toolkit2 venv not found: run scripts/setup-rknn-venv.sh"
#: the highest default-domain opset rknn-toolkit2 2.x accepts ("need <= 19")
MAX_OPSET = 19
RECIPE_VERSION = 1
CONVERT_TIMEOUT_S = 900.0
#: the isolated interpreter's default homes when ``$BENCHBENCH_RKNN_PYTHON`` is not set
DEFAULT_VENV_PYTHONS = (Path("~/.cache/benchbench/rknn-venv/bin/python"),
                        Path("/opt/benchbench-rknn-venv/bin/python"))


def check_applicable(model: ModelArtifact, precision: str) -> str | None:
    """Why ``precision`` cannot be made for ``model`` with rknn-toolkit2 (None when it can)."""
    if precision not in PRECISIONS:
        return (f"precision {precision!r} does not apply to the rknn backend "
                f"(available: {', '.join(PRECISIONS)})")
    if model.kind == "llm":
        return ("the rknn backend converts single-graph models; the decoder LLM (prefill + KV-cache decode "
                "graphs) is not supported by this converter")
    return None


@lru_cache(maxsize=8)
def _probe(python: str) -> tuple[str | None, str | None]:
    """(toolkit version, None) when ``python`` has rknn-toolkit2, else (None, why)."""
    code = ("import importlib.util, importlib.metadata as m, sys\n"
            "sys.exit(4) if importlib.util.find_spec('rknn') is None else print(m.version('rknn-toolkit2'))")
    try:
        proc = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{MISSING_REASON} ({python} did not run: {exc})"
    if proc.returncode != 0:
        return None, f"{MISSING_REASON} ({python} has no rknn-toolkit2)"
    return proc.stdout.strip() or "unknown", None


def find_python(rknn_python: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> tuple[Path | None, str | None, str | None]:
    """The isolated interpreter: (path, toolkit version, None) or (None, None, reason to show the user)."""
    env = os.environ if environ is None else environ
    given = str(rknn_python) if rknn_python else env.get(ENV_VAR, "")
    if not given:  # where scripts/setup-rknn-venv.sh and .ci/setup put it by default
        given = next((str(p) for p in DEFAULT_VENV_PYTHONS if p.expanduser().is_file()), "")
    if not given:
        return None, None, f"{MISSING_REASON} (then set {ENV_VAR} to its bin/python)"
    path = Path(given).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        return None, None, f"{MISSING_REASON} ({path} is not an executable file)"
    version, why = _probe(str(path))
    return (path, version, None) if why is None else (None, None, why)


def downconvert(src: Path, dst: Path, opset: int = MAX_OPSET,
                shapes: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """Copy of ``src`` at default-domain opset ≤ ``opset`` and IR version ≤ 9 (what the toolkit's onnx reads),
    with dynamic input dims fixed to ``shapes`` (the NPU compiles for one shape)."""
    model = onnx.load(str(src))
    for vi in model.graph.input:
        for d, value in zip(vi.type.tensor_type.shape.dim, (shapes or {}).get(vi.name, [])):
            d.Clear()
            d.dim_value = value
    have = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), opset)
    info: dict[str, Any] = {"source_opset": have, "opset": min(have, opset)}
    if have > opset:
        model = onnx.version_converter.convert_version(model, opset)
    model.ir_version = min(model.ir_version, 9)
    info["ir_version"] = model.ir_version
    onnx.save(model, str(dst))
    return info


def _input_names(path: Path) -> list[str]:
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits]


def write_samples(folder: Path, feeds: list[dict[str, np.ndarray]], names: list[str],
                  stem: str) -> list[list[str]]:
    """One ``.npy`` per input per sample (NCHW as the model takes it); returns the paths per sample."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, feed in enumerate(feeds):
        paths = []
        for k, name in enumerate(names):
            p = folder / f"{stem}-{i}-{k}.npy"
            np.save(p, np.ascontiguousarray(feed[name]))
            paths.append(str(p))
        out.append(paths)
    return out


def write_dataset(folder: Path, feeds: list[dict[str, np.ndarray]], names: list[str]) -> Path:
    """The toolkit's calibration list: one line per sample, its inputs' ``.npy`` paths space-separated."""
    samples = write_samples(folder, feeds, names, "cal")
    path = folder / "dataset.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in samples))
    return path


def board_inputs(path: Path) -> list[dict[str, Any]]:
    """``params.inputs`` for the board's rknn backend: shape (NHWC for 4-D, RKNNLite's default) and dtype."""
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    out = []
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if len(shape) == 4:
            shape = [shape[0], shape[2], shape[3], shape[1]]
        dtype = str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)))
        out.append({"name": vi.name, "shape": shape, "dtype": dtype})
    return out


def _script() -> Path:
    ref = resources.files("benchbench.workloads.rknn_isolated") / "convert_script.py"
    return Path(str(ref))


def _run_converter(python: Path, request: dict[str, Any], work: Path, timeout_s: float) -> dict[str, Any]:
    req_path = work / "request.json"
    req_path.write_text(json.dumps(request))
    argv = [str(python), "-I", str(_script()), str(req_path)]
    try:
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ValidationFailed(f"rknn-toolkit2 conversion did not finish within {timeout_s:.0f} s") from None
    (work / "toolkit.log").write_text(proc.stdout + proc.stderr)
    result_path = work / "result.json"
    if not result_path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ValidationFailed(f"rknn-toolkit2 converter exited with {proc.returncode}: {tail[0][:300]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    if not result.get("ok"):
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("E ")]
        detail = f" ({errors[-1][2:][:300]})" if errors else ""
        raise ValidationFailed(f"rknn-toolkit2 {result.get('stage')}: {result.get('reason')}{detail}")
    return result


def make_rknn_variant(model: ModelArtifact, precision: str, pruning: str = "none",
                      cache_dir: Path | str = ".", target: str = DEFAULT_TARGET,
                      rknn_python: str | Path | None = None,
                      n_calibration: int = 32, n_validation: int = 20,
                      timeout_s: float = CONVERT_TIMEOUT_S) -> VariantArtifact:
    """The ``.rknn`` variant (role ``main``), validated in the simulator; ``status="failed"`` with a reason
    when the toolkit refuses the model. Raises WorkloadError when the isolated interpreter is missing (nothing
    cached)."""
    reason = check_applicable(model, precision)
    if reason:
        raise ConfigError(reason, key="precision")
    python, toolkit, missing = find_python(rknn_python)
    if python is None:
        raise WorkloadError(missing or MISSING_REASON, hint=f"set {ENV_VAR} or pass rknn_python")
    cache_dir = Path(cache_dir).resolve()
    base_variant = make_variant(model, "fp32", pruning, "npu", cache_dir, n_validation=n_validation)
    recipe = {"recipe_version": RECIPE_VERSION, "tool": "rknn-toolkit2", "precision": precision,
              "pruning": pruning, "target_platform": target, "max_opset": MAX_OPSET,
              "validation_samples": n_validation, "source": "fp32 variant (quant_pre_process)",
              "quantized_dtype": "w8a8" if precision == "int8" else None,
              "quantized_algorithm": "normal" if precision == "int8" else None,
              "calibration_samples": n_calibration if precision == "int8" else None,
              "calibration_seed_offset": feeds_mod.SEED_OFFSETS["calibration"]}
    versions = {"rknn-toolkit2": toolkit or "unknown", "onnx": onnx.__version__}
    key = sha256_json({"model": model.sha256, "source": base_variant.sha256, "recipe": recipe,
                       "tools": versions})
    folder = cache_dir / "variants" / f"{model.name}-rknn-{precision}-{pruning}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None and all((folder / f).is_file() for f in cached["files"].values()):
        return VariantArtifact.from_json(cached, folder)
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished entry from an interrupted run
    work = folder / ".work"
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    base = {"model": model.name, "precision": precision, "pruning": pruning, "target_arch": target,
            "recipe": recipe, "tool_versions": versions}
    extra: dict[str, Any] = {"tool": {"converter": "rknn.api.RKNN", "target_platform": target},
                             "source_variant": base_variant.sha256}
    if base_variant.status != "ok":
        return _finish(folder, base, {}, "failed", f"the fp32 source variant failed: {base_variant.reason}",
                       {}, extra, t0)
    src = base_variant.path
    out = folder / "main.rknn"
    try:
        extra["opset"] = downconvert(src, work / "source.onnx", shapes=model.params.get("shapes"))
        names = _input_names(src)
        fp32 = {"main": src}
        val = feeds_mod.sample_feeds(model, fp32, "main", "validation", n_validation)
        ref = [outs[0] for outs in reference_outputs(src, val)]  # the simulator returns the first output
        request: dict[str, Any] = {"onnx": str(work / "source.onnx"), "out": str(out), "target": target,
                                   "precision": precision, "samples": write_samples(work, val, names, "val")}
        if precision == "int8":
            cal = feeds_mod.sample_feeds(model, fp32, "main", "calibration", n_calibration)
            request["dataset"] = str(write_dataset(work, cal, names))
        result = _run_converter(python, request, work, timeout_s)
        sim = [np.load(work / f"out-{i}.npy") for i in range(len(val))]
        if any(s.size != r.size for s, r in zip(sim, ref)):
            raise ValidationFailed(f"simulator output size {sim[0].size} differs from the fp32 reference "
                                   f"{ref[0].size}")
        sim = [s.reshape(r.shape) for s, r in zip(sim, ref)]
        if not all(np.isfinite(s).all() for s in sim):
            raise ValidationFailed("non-finite values (NaN/inf) in the simulator's output")
        extra["toolkit_timings_s"] = result.get("timings", {})
        extra["flops_by_role"] = {"main": base_variant.flops}
        extra["board_inputs"] = board_inputs(work / "source.onnx")
        validation = {"main": {"fidelity": fidelity(ref, sim), "checked_with": "rknn-toolkit2 simulator "
                               "(init_runtime() without a target) vs onnxruntime fp32 CPU"}}
    except ValidationFailed as exc:
        return _finish(folder, base, {}, "failed", f"rknn {precision} variant of {model.name}: {exc}", {},
                       extra, t0)
    return _finish(folder, base, {"main": out}, "ok", None, validation, extra, t0)


def _finish(folder: Path, base: dict[str, Any], files: dict[str, Path], status: str, reason: str | None,
            validation: dict[str, Any], extra: dict[str, Any], t0: float) -> VariantArtifact:
    if (folder / ".work").exists():
        shutil.rmtree(folder / ".work")
    size = files["main"].stat().st_size if files else 0
    extra = dict(extra, size_bytes_by_role={"main": size} if files else {},
                 generate_s=time.perf_counter() - t0)
    variant = VariantArtifact(status=status, reason=reason, files=files, validation=validation,
                              sha256=files_digest(files) if files else "", size_bytes=size,
                              flops=int(extra.get("flops_by_role", {}).get("main", 0)), extra=extra, **base)
    write_sidecar(folder, variant.to_json())
    if status != "ok":
        log.warning("%s", reason)
    return variant
