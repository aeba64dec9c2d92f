"""Suite entries for llama.cpp → planned jobs: the reference GGUF (``workload: llm-gguf``) swept over
llama.cpp quantization types, and bring-your-own ``.gguf`` files (``workload: byo`` with ``model: X.gguf``, or
``benchbench run --model X.gguf``).

```yaml
- workload: llm-gguf              # backend llama.cpp is implied
  precisions: [f16, q8_0, q4_0, q4_k_m]
  params: {n_prompt: 64, n_gen: 32, threads: 2}
```
Params: the reference builder keys (``gguf_models.DEFAULTS``), the agent's (``llamacpp``: threads, batch,
ubatch, n_gpu_layers, flash_attn, n_prompt, n_gen, generations, llama_bench, llama_bench_reps) and the
controller's ``n_eval`` (fidelity stream length). Precisions are llama.cpp type names
(``gguf_quant.QUANT_TYPES``); a BYO file runs as given (labelled by its file type) unless other types are
asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec
from ..config.suite import JobEntry, Suite, sweep
from ..errors import ConfigError
from . import gguf_models, gguf_quant
from .plan import ExpandContext, PlannedJob, Work, job_key
from .staging import BYO_FLAGS, resolve_path, safe_name, stage

WORKLOAD = "llm-gguf"
BACKEND = "llama.cpp"
_RUNTIME_KEYS = ("threads", "batch", "ubatch", "n_gpu_layers", "flash_attn", "n_prompt", "n_gen",
                 "generations", "llama_bench", "llama_bench_reps")
_CONTROLLER_KEYS = ("n_eval",)


def is_gguf_path(path: str | Path) -> bool:
    return str(path).lower().endswith(".gguf")


NAMES = (WORKLOAD,)
BYO_SUFFIXES = (".gguf",)


def handles(entry: JobEntry) -> bool:
    """``llm-gguf``, every ``backend: llama.cpp`` entry (``expand`` refuses another workload), a byo .gguf."""
    return (entry.workload == WORKLOAD or entry.backend == BACKEND
            or (entry.workload == "byo" and is_gguf_path(entry.params.get("model", ""))))


def _meta(facts: dict[str, Any], v: dict[str, Any], kind: str) -> dict[str, Any]:
    """The stored record's details["variant"]; the shape ``ingest.metrics.variant_metrics`` reads."""
    fid = v.get("fidelity") or {}
    return {"status": v["status"], "reason": v.get("reason"), "model": facts.get("name"), "model_kind": kind,
            "model_sha256": facts.get("sha256"), "precision": v["precision"], "pruning": "none",
            "sha256": v.get("sha256"), "size_bytes": v.get("size_bytes"), "tool": v.get("tool"),
            "recipe": v.get("recipe"), "from_cache": v.get("from_cache", False), "primary_role": "main",
            "validation": {"main": {"fidelity": fid}} if "top1_agreement" in fid else {},
            "fidelity_unavailable": fid.get("unavailable"), "tensor_types": v.get("tensor_types"),
            "as_given": {k: facts.get(k)
                         for k in ("architecture", "file_type", "n_params", "size_bytes", "name")},
            "builder": facts.get("builder")}


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """llama.cpp quantization types of the reference GGUF model or a .gguf file."""
    where = f"jobs[{i}]"
    suite_file = ctx.suite_file
    file = None if suite_file == BYO_FLAGS else suite_file
    if entry.backend not in (None, BACKEND):
        raise ConfigError(f"a GGUF model runs on the llama.cpp backend, not {entry.backend!r}", file=file,
                          key=f"{where}.backend")
    if entry.workload not in (WORKLOAD, "byo"):
        raise ConfigError(f"backend llama.cpp runs workload {WORKLOAD} or a byo .gguf, "
                          f"not {entry.workload!r}", file=file, key=f"{where}.workload")
    if entry.pruning != ["none"]:
        raise ConfigError("pruning does not apply to GGUF models (llama.cpp quantization types only)",
                          file=file, key=f"{where}.pruning")
    byo = entry.workload == "byo"
    if entry.precisions:
        gguf_quant.check_types(entry.precisions, suite_file, where)
    cache_dir = ctx.cache_dir.resolve()
    timing = ctx.timing(entry)
    out: list[PlannedJob] = []
    for combo in sweep(entry.params):
        builder = {k: v for k, v in combo.items() if k in gguf_models.DEFAULTS}
        unknown = sorted(set(combo) - set(builder) - set(_RUNTIME_KEYS + _CONTROLLER_KEYS) - {"model"})
        if unknown or (byo and builder) or (not byo and "model" in combo):
            bad = (unknown or sorted(builder) or ["model"])[0]
            raise ConfigError(f"unknown parameter {bad!r} for a {'byo .gguf' if byo else WORKLOAD} job "
                              f"(runtime: {', '.join(_RUNTIME_KEYS)}; controller: n_eval"
                              + ("" if byo else f"; model: {', '.join(gguf_models.DEFAULTS)}") + ")",
                              file=file, key=f"{where}.params.{bad}")
        n_eval = int(combo.get("n_eval", 96))
        params = {k: v for k, v in combo.items() if k in _RUNTIME_KEYS}
        try:
            if byo:
                base = resolve_path(str(combo.get("model", "")), suite_file)
                facts = gguf_models.describe(base)
                workload, kind = f"byo:{safe_name(base.stem)}", "byo-gguf"
            else:
                base, facts = gguf_models.build_reference(builder, entry.seed, cache_dir)
                workload, kind = WORKLOAD, "gguf"
        except ConfigError as exc:
            key = "--model" if file is None else f"{where}.params.{'model' if byo else exc.key or 'model'}"
            msg = str(exc).split(": ", 1)[1] if exc.key and str(exc).startswith(exc.key + ": ") else str(exc)
            raise ConfigError(msg, file=file, key=key, hint=exc.hint) from None
        precisions = list(entry.precisions or ([facts["file_type"]] if byo else gguf_quant.DEFAULT_TYPES))
        if facts["file_type"] not in gguf_quant.QUANT_TYPES and not entry.precisions:
            precisions = [facts["file_type"]]  # an exotic as-given type still runs, labelled by it
        for qtype in precisions:
            key = job_key(workload, BACKEND, qtype, "none", params)
            if not ctx.claim(key):
                continue
            spec_args: dict[str, Any] = {"job_key": key, "workload": workload, "backend": BACKEND,
                                         "precision": qtype, "params": params, "pruning": "none",
                                         "timing": timing, "timeout_s": entry.timeout_s, "seed": entry.seed}
            if qtype not in gguf_quant.QUANT_TYPES:  # the as-given file of a type benchbench has no name for
                v = {"status": "ok", "precision": qtype, "path": str(base), "size_bytes": facts["size_bytes"],
                     "sha256": facts["sha256"], "tool": "as given"}
            else:
                v = gguf_quant.make_gguf_variant(base, facts, qtype, cache_dir, n_eval=n_eval,
                                                 seed=entry.seed)
            meta = _meta(facts, v, kind)
            work = Work(item_unit="token")
            if v["status"] != "ok":
                explicit = entry.precisions is not None
                na = v["status"] == gguf_quant.NOT_APPLICABLE
                status = "unsupported" if v["status"] == "unsupported" or (na and not explicit) else "failed"
                reason = f"not applicable: {v['reason']}" if na else str(v["reason"])
                out.append(PlannedJob(spec=JobSpec(**spec_args), work=work, meta=meta, precheck_status=status,
                                      precheck_failure=reason))
                continue
            path = Path(v["path"])
            staged = stage(path, f"{safe_name(path.stem)}-{str(v['sha256'])[:12]}.gguf", cache_dir / "deploy")
            out.append(PlannedJob(spec=JobSpec(artifact=staged.name, **spec_args), work=work, meta=meta,
                                  artifact_path=staged))
    return out


def byo_suite(model_path: str | Path, shapes: list[str], inputs: list[str], inputs_npz: str | None,
              precisions: list[str] | None) -> Suite:
    """The suite behind ``benchbench run --model X.gguf [--precision q4_0 ...]``."""
    if shapes or inputs or inputs_npz:
        raise ConfigError("--shape/--input/--inputs do not apply to a GGUF model (prompt tokens are seeded)",
                          key="--shape" if shapes else "--input")
    if precisions:
        gguf_quant.check_types(list(precisions), BYO_FLAGS, "jobs[0]")
    path = Path(model_path).expanduser().resolve()
    return Suite(name=f"byo-{path.stem}", description=f"bring-your-own GGUF model {path.name}",
                 jobs=[JobEntry(workload="byo", backend=BACKEND,
                                precisions=list(precisions) if precisions else None,
                                params={"model": str(path)})])
