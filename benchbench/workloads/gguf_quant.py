"""GGUF quantization types made on the controller with llama.cpp's own quantizer, and their fidelity vs f16.

``make_gguf_variant(base, facts, qtype, cache_dir)`` quantizes an f16/bf16/f32 GGUF with
``llama_cpp.llama_model_quantize`` (llama-cpp-python) or, without it, the ``llama-quantize`` binary on PATH,
and caches the result content-addressed (sha256 of the source file, type, quantizer version, recipe version;
sidecar written last) like the ONNX variants. A type whose block size does not divide the model's rows is
``not-applicable`` with the reason (llama.cpp would silently fall back to another type for those tensors).

Fidelity (``fidelity.py``): on a fixed seeded token stream, per-token top-1 agreement of the logits with the
f16 model and perplexity; a variant whose perplexity exceeds ``PPL_EXPLODED`` × f16's is flagged.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .artifacts import read_sidecar, sha256_json, write_sidecar
from .gguf_fidelity import ArchUnsupported, fidelity_vs_reference
from .staging import BYO_FLAGS

log = logging.getLogger(__name__)

#: name → (LLAMA_FTYPE_MOSTLY_*, block size in values): the k-quants and iq4_xs use super-blocks of 256
QUANT_TYPES: dict[str, tuple[int, int]] = {
    "f32": (0, 1), "f16": (1, 1), "bf16": (32, 1), "q8_0": (7, 32), "q4_0": (2, 32), "q4_1": (3, 32),
    "q5_0": (8, 32), "q5_1": (9, 32), "iq4_nl": (25, 32), "q2_k": (10, 256), "q3_k_m": (12, 256),
    "q4_k_s": (14, 256), "q4_k_m": (15, 256), "q5_k_s": (16, 256), "q5_k_m": (17, 256), "q6_k": (18, 256),
    "iq4_xs": (30, 256)}
DEFAULT_TYPES = ("f16", "q8_0", "q4_0", "q4_k_m")
#: the types a file can be quantized from without requantizing already-lossy weights
SOURCE_TYPES = ("f32", "f16", "bf16")
NOT_APPLICABLE = "not-applicable"
RECIPE_VERSION = 1
MISSING_QUANTIZER = ("no llama.cpp quantizer on the controller: pip install 'benchbench[llm]' "
                     "(llama-cpp-python), or put llama-quantize on PATH")


def check_types(types: list[str], file: str | None, where: str) -> None:
    """Unknown type names are bad input (exit 2) listing the known ones."""
    for j, t in enumerate(types):
        if t not in QUANT_TYPES:
            cli = file == BYO_FLAGS
            raise ConfigError(f"unknown GGUF quantization type {t!r} (known: {', '.join(QUANT_TYPES)})",
                              file=None if cli else file,
                              key="--precision" if cli else f"{where}.precisions[{j}]")


def not_applicable(facts: dict[str, Any], qtype: str) -> str | None:
    block = QUANT_TYPES[qtype][1]
    bad = [r for r in facts.get("row_lengths", []) if r % block]
    if block > 1 and bad:
        kind = "k-quant" if qtype.startswith("q") else "i-quant"
        return (f"{qtype} packs rows in {kind} super-blocks of {block} values; this model has rows of "
                f"{bad[0]} values (llama.cpp would fall back to another type for those tensors)")
    src = facts.get("file_type", "unknown")
    if qtype != src and src not in SOURCE_TYPES:
        return (f"the file is already {src}: quantizing it again to {qtype} would stack two lossy steps; "
                "bring the f16 GGUF to sweep types")
    return None


def _quantizer() -> tuple[str, str] | None:
    """(kind, version): llama-cpp-python in this process, else llama-quantize on PATH."""
    try:
        import llama_cpp

        return "llama-cpp-python", str(getattr(llama_cpp, "__version__", "?"))
    except ImportError:
        pass
    exe = shutil.which("llama-quantize")
    return ("llama-quantize", exe) if exe else None


def _quantize(src: Path, dst: Path, qtype: str, kind: str) -> None:
    ftype = QUANT_TYPES[qtype][0]
    if kind == "llama-cpp-python":
        import llama_cpp

        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.nthread = os.cpu_count() or 1
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
        if rc != 0:
            raise RuntimeError(f"llama_model_quantize returned {rc}")
        return
    exe = shutil.which("llama-quantize")
    assert exe is not None
    proc = subprocess.run([exe, str(src), str(dst), qtype.upper()], capture_output=True, text=True,
                          timeout=1800, check=False)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
        raise RuntimeError(f"llama-quantize exited with {proc.returncode}: {tail[0][:200]}")


def make_gguf_variant(base: Path, facts: dict[str, Any], qtype: str, cache_dir: Path,
                      n_eval: int = 96, seed: int = 0) -> dict[str, Any]:
    """{status, reason, path, size_bytes, sha256, tool, fidelity, from_cache…}; ``status`` ok / not-applicable
    / failed / unsupported (no quantizer)."""
    src_type = facts.get("file_type")
    out: dict[str, Any] = {"precision": qtype, "source_type": src_type, "source_sha256": facts["sha256"]}
    why = not_applicable(facts, qtype)
    if why:
        return dict(out, status=NOT_APPLICABLE, reason=why)
    q = _quantizer()
    if q is None and qtype != src_type:
        return dict(out, status="unsupported", reason=MISSING_QUANTIZER)
    kind, version = q or ("as-is", "")
    recipe = {"qtype": qtype, "ftype": QUANT_TYPES[qtype][0], "tool": kind, "version": version,
              "recipe": RECIPE_VERSION, "n_eval": n_eval, "seed": seed}
    key = sha256_json({"source": facts["sha256"], **recipe})
    folder = cache_dir / "gguf-variants" / f"{_stem(base)}-{qtype}-{key[:16]}"
    cached = read_sidecar(folder)
    if cached is not None and (cached.get("status") != "ok" or Path(cached["path"]).is_file()):
        return dict(cached, from_cache=True)
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished entry from an interrupted run
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    if qtype == src_type:  # the file as given is this type (the f16 reference): a link, not a requantization
        dst = base
        tool = "as given"
    else:
        dst = folder / f"{_stem(base)}-{qtype}.gguf"
        tmp = folder / (dst.name + ".tmp")
        try:
            _quantize(base, tmp, qtype, kind)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            res = dict(out, status="failed", reason=f"{qtype} quantization failed: {exc}")
            write_sidecar(folder, res)
            return res
        os.replace(tmp, dst)
        tool = (f"{kind} {version}: llama_model_quantize ftype {QUANT_TYPES[qtype][0]} "
                f"(LLAMA_FTYPE_MOSTLY_{qtype.upper()})")
    from .gguf_models import describe

    vfacts = describe(dst)
    res = dict(out, status="ok", reason=None, path=str(dst), size_bytes=vfacts["size_bytes"],
               sha256=vfacts["sha256"], tensor_types=vfacts["tensor_types"], tool=tool, recipe=recipe,
               quantize_s=time.perf_counter() - t0)
    if kind != "llama-cpp-python":
        res["fidelity"] = {"unavailable": "fidelity needs llama-cpp-python on the controller"}
    else:
        try:
            res["fidelity"] = fidelity_vs_reference(base, dst, cache_dir, n_eval=n_eval, seed=seed)
        except ArchUnsupported as exc:
            res.update(status="unsupported", reason=str(exc))
        except RuntimeError as exc:  # llama.cpp could not evaluate it: the variant is not timed either
            res.update(status="failed", reason=f"{qtype} fidelity check failed: {exc}")
    write_sidecar(folder, res)
    return res


def _stem(path: Path) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in path.stem)[:60]
