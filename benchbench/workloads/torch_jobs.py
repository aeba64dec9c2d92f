"""Suite entries with ``backend: torch`` → planned jobs for the agent's torch backend.

* Reference models (``mobilenetv2``, ``resnet18``, ``decoder``): the torch modules of ``torch_models`` with
  the ONNX references' weights, one variant per (precision × pruning) made by ``torch_variants``. A variant
  that does not apply is planned ``unsupported`` with its reason; one that failed is planned ``failed``.
* Bring your own (``workload: byo`` with ``model: X.pt|X.pt2``, or ``benchbench run --model X.pt2``): a
  TorchScript or ExportedProgram runs as-is at fp32. The file is recognised from its zip entries without
  unpickling anything; a pickled whole model or a state_dict is refused with how to save a deployable one.

Params: builder keys of the reference model, ``device`` (cpu/cuda), ``num_threads``, ``compile``
(torch.compile: a runtime distinction, so eager and compiled rows are separate groups in the matrix),
``new_tokens``, ``generations`` (decoder); controller-side ``calibration_samples``, ``validation_samples``;
BYO ``model``, ``shapes``. torch is imported only when a torch entry is planned.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec
from ..config.suite import JobEntry, Suite, sweep
from ..errors import ConfigError
from .artifacts import sha256_file
from .byo import parse_shape
from .model_facts import model_work, variant_meta
from .models import REFERENCE_MODELS, build_reference, split_params
from .plan import ExpandContext, PlannedJob, Work, job_key
from .pruning import parse_spec
from .staging import BYO_FLAGS, relocated, resolve_path, safe_name, stage

TORCH_SUFFIXES = (".pt", ".pt2")
_RUNTIME_KEYS = ("device", "num_threads", "compile", "new_tokens", "generations")
_CONTROLLER_KEYS = ("calibration_samples", "validation_samples")
MISSING_TORCH = "torch is not installed on the controller: pip install 'benchbench[torch]'"
SAVE_HINT = ("save a deployable model instead: torch.jit.save(torch.jit.script(model), 'm.pt') (TorchScript) "
             "or torch.export.save(torch.export.export(model, example_args), 'm.pt2') (ExportedProgram)")


def is_torch_path(path: str | Path) -> bool:
    return str(path).lower().endswith(TORCH_SUFFIXES)


NAMES: tuple[str, ...] = ()  # reference models with ``backend: torch`` and ``byo`` .pt/.pt2 files
BYO_SUFFIXES = TORCH_SUFFIXES


def handles(entry: JobEntry) -> bool:
    """Every ``backend: torch`` entry (``expand`` refuses a workload torch does not run), and a byo
    .pt/.pt2."""
    return (entry.backend == "torch"
            or (entry.workload == "byo" and is_torch_path(entry.params.get("model", ""))))


def _pickle_globals(data: bytes) -> list[str]:
    """Class names a pickle would import, read from its opcodes (nothing is executed)."""
    names: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(str(arg))
            elif op.name == "GLOBAL":
                names.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
    except ValueError:
        pass
    return names


def sniff(path: Path) -> str:
    """``torchscript`` or ``exported``; raises ConfigError (exit 2) for anything else, never unpickling."""
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[:2]
        if head[:1] == b"\x80":
            raise ConfigError(f"{path} is a legacy pickle, which benchbench never loads "
                              "(unpickling runs code); " + SAVE_HINT, key="model")
        raise ConfigError(f"{path} is not a PyTorch model (neither TorchScript nor an ExportedProgram)",
                          key="model")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if any(n.endswith(("/models/model.json", "/archive_format")) for n in names):
            return "exported"
        if any("/code/" in n for n in names):
            return "torchscript"
        pkl = next((n for n in names if n.endswith("/data.pkl")), None)
        if pkl is None:
            raise ConfigError(f"{path} is not a PyTorch model (a zip without TorchScript code or an "
                              "ExportedProgram)", key="model")
        classes = _pickle_globals(zf.read(pkl))
    modules = [c for c in classes if ".nn.modules." in c or (not c.startswith(("torch.", "collections."))
                                                             and c not in ("builtins.set",))]
    what = (f"a pickled whole model (torch.save(model): {modules[0]})" if modules
            else "a pickled state_dict or tensors (weights without the architecture)")
    raise ConfigError(f"{path} is {what}; benchbench never unpickles it (unpickling runs code): {SAVE_HINT}",
                      key="model")


def _byo_inputs(path: Path, fmt: str, shapes: dict[str, list[int]]) -> list[list[Any]]:
    """[[name, shape, dtype], ...] in call order; a shape the ExportedProgram rejects → ConfigError naming
    it."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if fmt == "torchscript":
                mod: Any = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(path), map_location="cpu")
                names = [a.name for a in mod.forward.schema.arguments[1:]]
                given: dict[str, list[int | None] | None] = {n: None for n in names}
                dtypes = {n: "float32" for n in names}
            else:
                ep = torch.export.load(str(path))
                names = list(ep.graph_signature.user_inputs)
                vals = {n.name: n.meta.get("val") for n in ep.graph.nodes if n.op == "placeholder"}
                given = {n: [d if isinstance(d, int) else None for d in vals[n].shape] for n in names}
                dtypes = {n: str(vals[n].dtype).replace("torch.", "") for n in names}
                mod = ep.module()
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path} could not be loaded by torch: {str(exc).splitlines()[0][:200]}",
                              key="model") from None
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise ConfigError(f"{unknown[0]!r} is not an input of {path.name} (inputs: {', '.join(names)})",
                          key="shape")
    out = []
    for n in names:
        shape = shapes.get(n) or given[n]
        if shape is None or any(d is None for d in shape):
            raise ConfigError(f"input {n!r} of {path.name} has no static shape: give --shape {n}=1x3x224x224",
                              key="shape")
        out.append([n, [int(d) for d in shape if d is not None], dtypes[n]])
    if fmt == "exported" and shapes:
        args = [torch.zeros(s, dtype=getattr(torch, d)) for _, s, d in out]
        try:
            with torch.inference_mode():
                mod(*args)
        except Exception as exc:  # noqa: BLE001  the ExportedProgram's input guards (shape constraints) or the model's own error
            bad = next((n for n in shapes if n in str(exc)), None) or next(iter(shapes))
            raise ConfigError(f"input {bad!r}: shape {shapes[bad]} is rejected by {path.name}'s exported "
                              f"constraints: {str(exc).splitlines()[0][:200]}", key="shape") from None
    return out


def _unsupported(spec: JobSpec, reason: str, meta: dict[str, Any]) -> PlannedJob:
    return PlannedJob(spec=spec, work=Work(), precheck_status="unsupported", precheck_failure=reason,
                      meta=dict(meta, status="unsupported", reason=reason))


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """Torch variants for the torch backend: reference models or a .pt/.pt2 file."""
    where = f"jobs[{i}]"
    suite_file = ctx.suite_file
    file_for_errors = None if suite_file == BYO_FLAGS else suite_file
    if entry.backend not in (None, "torch"):
        raise ConfigError(f"a .pt/.pt2 model runs on the torch backend, not {entry.backend!r}",
                          file=file_for_errors, key=f"{where}.backend")
    if entry.workload not in (*REFERENCE_MODELS, "byo"):
        raise ConfigError(f"backend torch runs a reference model ({', '.join(REFERENCE_MODELS)}) or a byo "
                          f".pt/.pt2, not {entry.workload!r}", file=file_for_errors, key=f"{where}.workload")
    byo = entry.workload == "byo"
    model_keys = ("model", "shapes") if byo else ()
    timing = ctx.timing(entry)
    cache_dir = ctx.cache_dir.resolve()
    deploy = cache_dir / "deploy"
    out: list[PlannedJob] = []
    for combo in sweep({k: v for k, v in entry.params.items() if k != "shapes"}):
        if "shapes" in entry.params:
            combo["shapes"] = entry.params["shapes"]
        if byo:
            builder: dict[str, Any] = {}
            runtime = {k: v for k, v in combo.items() if k not in model_keys}
        else:
            builder, runtime = split_params(entry.workload, combo)
        unknown = sorted(set(runtime) - set(_RUNTIME_KEYS + _CONTROLLER_KEYS))
        if unknown:
            raise ConfigError(f"unknown parameter {unknown[0]!r} for a torch job (runtime: "
                              f"{', '.join(_RUNTIME_KEYS + _CONTROLLER_KEYS)})", file=file_for_errors,
                              key=f"{where}.params.{unknown[0]}")
        n_cal, n_val = int(runtime.pop("calibration_samples", 16)), int(runtime.pop("validation_samples", 8))
        params = {k: v for k, v in combo.items() if k not in _CONTROLLER_KEYS}
        if byo:
            path = resolve_path(str(combo.get("model", "")), suite_file)
            workload = f"byo:{safe_name(path.stem)}"
        else:
            path, workload = None, entry.workload
        precisions = entry.precisions or (["fp32"] if byo
                                          else ["fp32", "fp16", "bf16", "int8-dynamic", "int8-static"])

        def spec(key: str, precision: str, pruning: str, p: dict[str, Any], artifact: str | None = None,
                 workload: str = workload) -> JobSpec:
            return JobSpec(job_key=key, workload=workload, backend="torch", precision=precision, params=p,
                           pruning=pruning, artifact=artifact, timing=timing, timeout_s=entry.timeout_s,
                           seed=entry.seed)

        jobs = [(pr, pn, job_key(workload, "torch", pr, pn, params))
                for pr in precisions for pn in entry.pruning]
        jobs = [j for j in jobs if ctx.claim(j[2])]
        try:
            import torch  # noqa: F401
        except ImportError:
            out += [_unsupported(spec(k, pr, pn, params), MISSING_TORCH, {"model": workload})
                    for pr, pn, k in jobs]
            continue
        if byo:
            out += _byo_jobs(where, file_for_errors, path, params, jobs, spec, deploy)
            continue
        out += _reference_jobs(entry, where, suite_file, builder, params, jobs, spec, cache_dir, deploy,
                               ctx.target_arch, n_cal, n_val)
    return out


def _byo_jobs(where: str, file: str | None, path: Path | None, params: dict[str, Any],
              jobs: list[tuple[str, str, str]], spec: Any, deploy: Path) -> list[PlannedJob]:
    assert path is not None
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", file=file, key=f"{where}.params.model")
    raw = params.get("shapes") or {}
    shapes = (dict(parse_shape(s) for s in raw) if isinstance(raw, list)
              else {str(k): [int(d) for d in v] for k, v in raw.items()})
    try:
        fmt = sniff(path)
        inputs = _byo_inputs(path, fmt, shapes)
    except ConfigError as exc:
        key = "--shape" if exc.key == "shape" and file is None else f"{where}.params.{exc.key or 'model'}"
        raise relocated(exc, file, key) from None
    sha = sha256_file(path)
    staged = stage(path, f"{safe_name(path.stem)}-{sha[:12]}{path.suffix}", deploy)
    meta = {"status": "ok", "model": path.stem, "model_kind": "byo-torch", "model_sha256": sha, "sha256": sha,
            "size_bytes": path.stat().st_size, "tool": "as-is", "format": fmt, "primary_role": "main"}
    out = []
    for precision, pruning, key in jobs:
        p = dict(params, inputs=inputs)
        if (precision, pruning) != ("fp32", "none"):
            out.append(_unsupported(spec(key, precision, pruning, p), f"{precision}/{pruning}: variants of a "
                                    "bring-your-own torch model are not made (it runs as-is at fp32); "
                                    "save each variant yourself and bring it",
                                    dict(meta, precision=precision, pruning=pruning)))
            continue
        out.append(PlannedJob(spec=spec(key, precision, pruning, p, staged.name),
                              work=Work(item_unit="inference"), artifact_path=staged,
                              meta=dict(meta, precision=precision, pruning=pruning)))
    return out


def _reference_jobs(entry: JobEntry, where: str, suite_file: str | None, builder: dict[str, Any],
                    params: dict[str, Any], jobs: list[tuple[str, str, str]], spec: Any, cache_dir: Path,
                    deploy: Path, target_arch: str, n_cal: int, n_val: int) -> list[PlannedJob]:
    from .torch_variants import make_torch_variant  # imports torch: only once a torch entry is planned

    try:
        model = build_reference(entry.workload, builder, cache_dir)
    except ConfigError as exc:
        raise relocated(exc, suite_file, f"{where}.params") from None
    for k, pruning in enumerate(entry.pruning):
        try:
            parse_spec(pruning)
        except ConfigError as exc:
            raise relocated(exc, suite_file, f"{where}.pruning[{k}]") from None
    out = []
    for precision, pruning, key in jobs:
        v = make_torch_variant(model, precision, pruning, target_arch, cache_dir, n_cal, n_val)
        meta = variant_meta(model, v)
        p = dict(params)
        if model.kind == "llm":
            p["llm"] = dict(model.meta["llm"])
        else:
            res = int(model.meta["params"]["resolution"])
            p["inputs"] = [["image", [1, 3, res, res], "float32"]]
        if v.extra.get("quantized_engine"):
            p["quantized_engine"] = v.extra["quantized_engine"]
        if v.status != "ok":
            reason = v.reason or f"torch {precision}/{pruning} variant failed"
            out.append(PlannedJob(spec=spec(key, precision, pruning, p), work=model_work(model, v), meta=meta,
                                  precheck_failure=reason,
                                  precheck_status="unsupported" if v.status == "unsupported" else "failed"))
            continue
        staged = {role: stage(f, f"torch-{safe_name(f.parent.name)}.{role}{f.suffix}", deploy)
                  for role, f in sorted(v.files.items())}
        primary = staged.get("main") or staged["prefill"]
        if "decode" in staged:
            p["decode_artifact"] = staged["decode"].name
        out.append(PlannedJob(spec=spec(key, precision, pruning, p, primary.name), work=model_work(model, v),
                              meta=meta, artifact_path=primary,
                              extra_artifacts=tuple(s for s in staged.values() if s != primary)))
    return out


def byo_suite(model_path: str | Path, shapes: list[str], inputs: list[str], inputs_npz: str | None,
              precisions: list[str] | None) -> Suite:
    """The suite behind ``benchbench run --model X.pt|X.pt2 [--shape ...] [--precision ...]``."""
    if inputs or inputs_npz:
        raise ConfigError("--input/--inputs are not supported for torch models yet (inputs are seeded)",
                          key="--input")
    for s in shapes:
        parse_shape(s)
    path = Path(model_path).expanduser().resolve()
    params: dict[str, Any] = {"model": str(path)}
    if shapes:
        params["shapes"] = list(shapes)
    return Suite(name=f"byo-{path.stem}", description=f"bring-your-own torch model {path.name}",
                 jobs=[JobEntry(workload="byo", backend="torch",
                                precisions=list(precisions) if precisions else None,
                                params=params)])
