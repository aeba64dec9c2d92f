"""Suite entries for models → planned jobs: reference models (``mobilenetv2``, ``resnet18``, ``decoder``) and
bring-your-own ONNX files (``workload: byo``).

Every (precision × pruning) variant is generated and validated on the controller by ``make_variant``
(cached). A variant that failed becomes a ``PlannedJob`` with ``precheck_failure`` set: the pipeline stores
it as ``failed`` with the reason and never sends it to a board. Variant facts (size, fidelity, recipe, tool
versions, optimized-op histogram, pruning info) ride along in ``PlannedJob.meta`` into the stored record.

BYO entry params: ``model: PATH`` (relative to the suite file), ``shapes`` (``NAME=1x3x224x224`` strings or
``{NAME: [1, 3, 224, 224]}``), ``inputs`` (``NAME=VALUE`` strings or ``{NAME: VALUE}``), ``inputs_npz: PATH``.
Controller-side params for any model: ``calibration_samples`` and ``validation_samples``. Everything else
(``intra_op_threads``, ``providers``, ``require_providers``, ``allow_spinning``, ``new_tokens``,
``generations``) goes to the agent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec, TimingPlan
from ..config.suite import JobEntry, Suite, sweep
from ..errors import ConfigError
from . import byo, rknn_convert
from .artifacts import ModelArtifact
from .model_facts import model_work, variant_meta
from .models import REFERENCE_MODELS, build_reference, split_params
from .plan import ExpandContext, PlannedJob, Work, job_key
from .pruning import parse_spec
from .staging import BYO_FLAGS, relocated, resolve_path, safe_name, stage
from .variants import NOT_APPLICABLE, PRECISIONS, make_variant

NAMES = (*REFERENCE_MODELS, "byo")
_FLAG_FOR_KEY = {"model": "--model", "shape": "--shape", "input": "--input", "inputs": "--inputs"}
_BYO_KEYS = ("model", "shapes", "inputs", "inputs_npz")
_CONTROLLER_KEYS = ("calibration_samples", "validation_samples")
#: params the agent's ONNX Runtime backends read (onnxruntime-llm also the generation settings)
_RUNTIME_KEYS = ("intra_op_threads", "allow_spinning", "providers", "require_providers")
#: feed settings the controller derives for a BYO model (shapes of dynamic dims, fixed values, generators)
_FEED_KEYS = ("fixed_inputs", "input_shapes", "input_gen")
_LLM_RUNTIME_KEYS = ("new_tokens", "generations")
#: params of ``backend: rknn`` entries: the conversion target (controller) and the NPU core mask (board)
_RKNN_KEYS = ("target_platform", "core_mask")
#: where a BYO loader's ConfigError key points in the suite entry
_BYO_KEY_PATH = {"model": "model", "shape": "shapes", "input": "inputs", "inputs": "inputs_npz"}


def handles(entry: JobEntry) -> bool:
    """Reference models and ONNX bring-your-own entries (the registry asks the runtime-specific expanders —
    TFLite, PyTorch, llama.cpp — first)."""
    return entry.workload in NAMES


def _named_values(value: Any, parse: Any, what: str) -> dict[str, Any]:
    """``["a=1", "b=2"]`` or ``{a: 1}`` → dict (strings go through the CLI flag parser)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): parse(f"{k}={v}")[1] if isinstance(v, str) else v for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return dict(parse(v) for v in value)
    raise ConfigError(f"{what}: expected a list of NAME=VALUE strings or a mapping",
                      key="shape" if what == "shapes" else "input")


def _load(entry: JobEntry, combo: dict[str, Any], suite_file: str | None, where: str,
          cache_dir: Path) -> tuple[ModelArtifact, dict[str, Any]]:
    """Build or load the model; returns it with the params that go to the agent."""
    if entry.workload == "byo":
        if "model" not in combo:
            raise ConfigError("byo needs params.model: PATH to an .onnx file", file=suite_file,
                              key=f"{where}.params.model")
        try:
            shapes = {k: [int(d) for d in v] if isinstance(v, list) else v
                      for k, v in _named_values(combo.get("shapes"), byo.parse_shape, "shapes").items()}
            fixed = _named_values(combo.get("inputs"), byo.parse_input, "inputs")
            npz = resolve_path(combo["inputs_npz"], suite_file) if combo.get("inputs_npz") else None
            model = byo.load_byo(resolve_path(str(combo["model"]), suite_file), shapes, fixed, npz, cache_dir,
                                 seed=entry.seed)
        except ConfigError as exc:
            if suite_file == BYO_FLAGS:
                raise relocated(exc, None, _FLAG_FOR_KEY.get(exc.key or "", "--model")) from None
            raise relocated(exc, suite_file,
                            f"{where}.params.{_BYO_KEY_PATH.get(exc.key or '', 'model')}") from None
        runtime = {k: v for k, v in combo.items() if k not in _BYO_KEYS}
        runtime.update(byo.agent_inputs(model))
        return model, runtime
    builder, runtime = split_params(entry.workload, combo)
    try:
        model = build_reference(entry.workload, builder, cache_dir)
    except ConfigError as exc:
        raise relocated(exc, suite_file, f"{where}.params") from None
    return model, runtime


def _model_keys(workload: str) -> list[str]:
    from .models import _CNN_KEYS, decoder

    if workload == "byo":
        return list(_BYO_KEYS)
    return sorted(decoder.DEFAULTS if workload == "decoder" else _CNN_KEYS)


def default_precisions(model: ModelArtifact) -> list[str]:
    """Every precision: those that do not apply become visible not-applicable rows, not silent omissions."""
    return list(PRECISIONS)


def as_given_precision(model: ModelArtifact) -> str:
    """What a BYO model already computes in (``fp32``, or ``int8`` for a pre-quantized graph …)."""
    return str((model.meta.get("as_given") or {}).get("precision", "fp32"))


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """All (param combination × precision × pruning) jobs of one model entry, variants made and validated.

    ``ctx.target_arch`` picks the int8 flavour (U8S8 on x86, S8S8 on ARM/NPU); the fleet path passes each
    board's architecture, the local run ``plan.local_arch()``.
    """
    suite_file, timing = ctx.suite_file, ctx.timing(entry)
    where = f"jobs[{i}]"
    cache_dir = ctx.cache_dir.resolve()  # the quantization tools run from a scratch directory
    fixed: dict[str, Any] = {k: entry.params[k] for k in ("shapes", "inputs") if k in entry.params}
    rest = {k: v for k, v in entry.params.items() if k not in fixed}
    deploy_dir = cache_dir / "deploy"
    out: list[PlannedJob] = []
    for combo in sweep(rest):
        combo = {**combo, **fixed}
        model, runtime = _load(entry, combo, suite_file, where, cache_dir)
        allowed = _CONTROLLER_KEYS + ((*_RKNN_KEYS, *_FEED_KEYS) if entry.backend == "rknn" else (
            *_RUNTIME_KEYS, *_FEED_KEYS, *(_LLM_RUNTIME_KEYS if model.kind == "llm" else ())))
        unknown = sorted(set(runtime) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown parameter {unknown[0]!r} for {entry.workload} (model: "
                              f"{', '.join(_model_keys(entry.workload))}; runtime: {', '.join(allowed)})",
                              file=suite_file, key=f"{where}.params.{unknown[0]}")
        n_cal = int(runtime.pop("calibration_samples", 32))
        n_val = int(runtime.pop("validation_samples", 20))
        backend = entry.backend or ("onnxruntime-llm" if model.kind == "llm" else "onnxruntime")
        rknn = backend == "rknn"
        precisions = entry.precisions or (list(rknn_convert.PRECISIONS) if rknn
                                          else default_precisions(model))
        for j, precision in enumerate(precisions):
            # only an unknown name (or an LLM on rknn) is bad input; a known precision that does not apply is
            # decided per variant and becomes a visible row
            why = (rknn_convert.check_applicable(model, precision) if rknn
                   else None if precision in PRECISIONS
                   else f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
            if why:
                if suite_file == BYO_FLAGS:
                    raise ConfigError(why, key="--precision")
                raise ConfigError(why, file=suite_file, key=f"{where}.precisions[{j}]")
        given = as_given_precision(model)
        if given != "fp32":  # the as-given job (requested as fp32) already is the model's own precision
            precisions = [p for p in precisions if p != given]
        for k, pruning in enumerate(entry.pruning):
            try:
                method, _ = parse_spec(pruning)
            except ConfigError as exc:
                raise relocated(exc, suite_file, f"{where}.pruning[{k}]") from None
            if method == "structured" and not model.meta.get("prune_groups"):
                raise ConfigError(f"structured pruning does not apply to {model.name}: it has no prune "
                                  "groups (bring-your-own models support unstructured pruning only)",
                                  file=suite_file, key=f"{where}.pruning[{k}]")
        workload = entry.workload if entry.workload != "byo" else f"byo:{safe_name(model.name)}"
        npz_name = None
        if model.kind == "byo" and model.params.get("npz"):
            npz = Path(model.params["npz"])
            npz_name = f"inputs-{safe_name(npz.stem)}-{str(model.params['npz_sha256'])[:12]}.npz"
        for precision in precisions:
            for pruning in entry.pruning:
                key = job_key(workload, backend, precision, pruning, combo)
                if not ctx.claim(key):
                    continue
                if rknn:
                    out.append(_rknn_job(entry, timing, model, combo, runtime, precision, pruning, workload,
                                         key, cache_dir, deploy_dir, n_cal, n_val))
                    continue
                out.append(_job(entry, timing, model, combo, runtime, precision, pruning, backend, workload,
                                key, cache_dir, deploy_dir, ctx.target_arch, n_cal, n_val, npz_name,
                                explicit=entry.precisions is not None))
    return out


def _job(entry: JobEntry, timing: TimingPlan, model: ModelArtifact, combo: dict[str, Any],
         runtime: dict[str, Any], precision: str, pruning: str, backend: str, workload: str, key: str,
         cache_dir: Path, deploy_dir: Path, target_arch: str, n_cal: int, n_val: int, npz_name: str | None,
         explicit: bool = True) -> PlannedJob:
    v = make_variant(model, precision, pruning, target_arch, cache_dir, n_calibration=n_cal,
                     n_validation=n_val)
    meta = variant_meta(model, v)
    params = {**combo, **runtime}
    if model.kind == "byo" and precision == "fp32":
        precision = as_given_precision(model)  # the reference job is labelled by what the file contains
        key = job_key(workload, backend, precision, pruning, combo)
    if v.status == NOT_APPLICABLE:  # requested by name → a failed job (exit 1); by default → a visible row
        spec = JobSpec(job_key=key, workload=workload, backend=backend, precision=precision, params=params,
                       pruning=pruning, timing=timing, timeout_s=entry.timeout_s, seed=entry.seed)
        return PlannedJob(spec=spec, work=model_work(model, v), meta=meta,
                          precheck_status="failed" if explicit else "unsupported",
                          precheck_failure=f"not applicable: {v.reason}")
    if v.status != "ok":
        spec = JobSpec(job_key=key, workload=workload, backend=backend, precision=precision, params=params,
                       pruning=pruning, timing=timing, timeout_s=entry.timeout_s, seed=entry.seed)
        return PlannedJob(spec=spec, work=model_work(model, v), meta=meta,
                          precheck_failure=v.reason or f"{precision}/{pruning} variant failed")
    stem = safe_name(v.path.parent.name)
    staged = {role: stage(p, f"{stem}.{role}.onnx", deploy_dir) for role, p in sorted(v.files.items())}
    primary = staged.get("main") or staged["prefill"]
    extra = [p for role, p in staged.items() if p != primary]
    if model.kind == "llm":
        params["decode_artifact"] = staged["decode"].name
    if npz_name:
        extra.append(stage(Path(model.params["npz"]), npz_name, deploy_dir))
        params["inputs_npz"] = npz_name
    spec = JobSpec(job_key=key, workload=workload, backend=backend, precision=precision, params=params,
                   pruning=pruning, artifact=primary.name, timing=timing, timeout_s=entry.timeout_s,
                   seed=entry.seed)
    return PlannedJob(spec=spec, work=model_work(model, v), artifact_path=primary, meta=meta,
                      extra_artifacts=tuple(extra))


def _rknn_job(entry: JobEntry, timing: TimingPlan, model: ModelArtifact, combo: dict[str, Any],
              runtime: dict[str, Any], precision: str, pruning: str, workload: str, key: str,
              cache_dir: Path, deploy_dir: Path, n_cal: int, n_val: int) -> PlannedJob:
    """A ``backend: rknn`` job: the ``.rknn`` converted on the controller is the artifact. Without
    rknn-toolkit2's isolated interpreter the job is planned ``unsupported`` with the reason (nothing is
    converted or cached)."""
    runtime = dict(runtime)
    target = str(runtime.pop("target_platform", rknn_convert.DEFAULT_TARGET))
    params = {**combo, **runtime}

    def spec(artifact: str | None = None) -> JobSpec:
        return JobSpec(job_key=key, workload=workload, backend="rknn", precision=precision, params=params,
                       pruning=pruning, artifact=artifact, timing=timing, timeout_s=entry.timeout_s,
                       seed=entry.seed)

    python, _, missing = rknn_convert.find_python()
    if python is None:
        return PlannedJob(spec=spec(), work=Work(), precheck_status="unsupported",
                          precheck_failure=missing or rknn_convert.MISSING_REASON,
                          meta={"status": "unsupported", "reason": missing, "model": model.name,
                                "model_kind": model.kind, "precision": precision, "pruning": pruning,
                                "tool": "rknn-toolkit2", "target_arch": target})
    v = rknn_convert.make_rknn_variant(model, precision, pruning, cache_dir, target, python,
                                       n_calibration=n_cal, n_validation=n_val)
    meta = variant_meta(model, v)
    if v.status != "ok":
        return PlannedJob(spec=spec(), work=model_work(model, v), meta=meta,
                          precheck_failure=v.reason or f"rknn {precision}/{pruning} variant failed")
    params["inputs"] = v.extra["board_inputs"]
    staged = stage(v.path, f"{safe_name(v.path.parent.name)}.rknn", deploy_dir)
    return PlannedJob(spec=spec(staged.name), work=model_work(model, v),
                      artifact_path=staged, meta=meta)


def byo_suite(model_path: str | Path, shapes: list[str], inputs: list[str], inputs_npz: str | None,
              precisions: list[str] | None) -> Suite:
    """The suite behind ``benchbench run --model PATH [--shape ...] [--input ...] [--inputs F.npz]
    [--precision ...]``: one ``byo`` entry, paths made absolute, flag syntax checked now."""
    for s in shapes:
        byo.parse_shape(s)
    for s in inputs:
        byo.parse_input(s)
    path = Path(model_path).expanduser().resolve()
    params: dict[str, Any] = {"model": str(path)}
    if shapes:
        params["shapes"] = list(shapes)
    if inputs:
        params["inputs"] = list(inputs)
    if inputs_npz:
        params["inputs_npz"] = str(Path(inputs_npz).expanduser().resolve())
    unknown = [p for p in precisions or [] if p not in PRECISIONS]
    if unknown:
        raise ConfigError(f"unknown precision {unknown[0]!r} (known: {', '.join(PRECISIONS)})",
                          key="--precision")
    return Suite(name=f"byo-{safe_name(path.stem)}", description=f"bring-your-own model {path.name}",
                 jobs=[JobEntry(workload="byo", precisions=list(precisions) if precisions else None,
                                params=params)])


def byo_suite_hash(suite: Suite) -> str:
    return hashlib.sha256(suite.model_dump_json().encode()).hexdigest()[:16]
