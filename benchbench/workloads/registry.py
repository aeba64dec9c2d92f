"""The workload catalogue and the expansion of suite entries into concrete, validated jobs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from ..agent.protocol import JobSpec, TimingPlan
from ..config.loader import load_model
from ..config.suite import JobEntry, Suite, params_key, sweep
from ..errors import ConfigError


@dataclass(frozen=True)
class Work:
    """What one call does, so throughput can be reported (GFLOP/s, GOP/s, GB/s, inferences/s)."""

    ops_per_call: float | None = None
    ops_unit: str = "FLOP"  # FLOP, OP (integer), or None
    bytes_per_call: float | None = None  # STREAM-style bytes
    items_per_call: float = 1.0
    item_unit: str = "call"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class WorkloadDef:
    name: str
    description: str
    params_model: type[BaseModel]
    #: precision → backend that runs it by default
    backends: dict[str, str]
    work: Callable[[BaseModel, str], Work]
    #: builds the artifact bytes (an ONNX model) for (params, precision, seed); None when not needed
    artifact: Callable[[BaseModel, str, int], bytes] | None = None
    #: backends that need the artifact (e.g. numpy GEMM does not)
    artifact_backends: tuple[str, ...] = ("onnxruntime",)
    kind: str = "kernel"


@dataclass(frozen=True)
class PlannedJob:
    spec: JobSpec
    work: Work
    artifact_path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: more files for the artifacts directory (an LLM's decode graph, a BYO model's inputs .npz)
    extra_artifacts: tuple[Path, ...] = ()
    #: set when the job must not be timed (its model variant failed generation or validation on the
    #: controller): the pipeline stores it as ``failed`` with this reason and never sends it to a board
    precheck_failure: str | None = None
    #: the stored status of a precheck failure: ``unsupported`` when a controller-side tool is missing
    precheck_status: str = "failed"

    def artifacts(self) -> list[Path]:
        """Every local file this job needs in the board's artifacts directory."""
        return ([self.artifact_path] if self.artifact_path is not None else []) + list(self.extra_artifacts)


_REGISTRY: dict[str, WorkloadDef] = {}


def register(defn: WorkloadDef) -> None:
    _REGISTRY[defn.name] = defn


def workloads() -> dict[str, WorkloadDef]:
    from . import kernels  # noqa: F401  (registers the built-in kernels)
    return dict(_REGISTRY)


def job_key(workload: str, backend: str, precision: str, pruning: str, params: dict[str, Any]) -> str:
    return f"{workload}|{backend}|{precision}|{pruning}|{params_key(params)}"


def _artifact(defn: WorkloadDef, params: BaseModel, precision: str, seed: int, cache_dir: Path) -> Path:
    assert defn.artifact is not None
    # the recipe (workload, params, precision, seed, builder version) names the cached file
    recipe = f"{defn.name}|{params.model_dump_json()}|{precision}|{seed}|v1".encode()
    path = cache_dir / f"{defn.name}-{hashlib.sha256(recipe).hexdigest()[:20]}.onnx"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(defn.artifact(params, precision, seed))
        tmp.replace(path)
    return path


def expand(suite: Suite, suite_file: str, cache_dir: Path, target_arch: str | None = None) -> list[PlannedJob]:
    """Every (entry × precision × pruning × param combination), validated, with artifacts built.

    Model entries (reference models, ``byo``) get their variants made on the controller; ``target_arch``
    picks their int8 flavour (default: this machine's, i.e. the local board).
    """
    from . import model_jobs

    known = workloads()
    jobs: list[PlannedJob] = []
    seen: set[str] = set()
    for i, entry in enumerate(suite.jobs):
        if entry.workload == "pytest-benchmark":
            from .pytest_jobs import expand_pytest

            jobs.extend(expand_pytest(entry, i, suite, suite_file, cache_dir, seen))
        elif model_jobs.is_model_workload(entry.workload):
            jobs.extend(model_jobs.expand_models(entry, i, suite, suite_file, cache_dir, seen,
                                                 target_arch or model_jobs.local_arch()))
        else:
            jobs.extend(_expand_entry(entry, i, suite, suite_file, cache_dir, known, seen))
    return jobs


def _expand_entry(entry: JobEntry, i: int, suite: Suite, suite_file: str, cache_dir: Path,
                  known: dict[str, WorkloadDef], seen: set[str]) -> list[PlannedJob]:
    where = f"jobs[{i}]"
    defn = known.get(entry.workload)
    if defn is None:
        from .model_jobs import MODEL_WORKLOADS

        names = sorted(known) + list(MODEL_WORKLOADS)
        raise ConfigError(f"unknown workload {entry.workload!r} (known: {', '.join(names)})",
                          file=suite_file, key=f"{where}.workload")
    precisions = entry.precisions or list(defn.backends)
    out: list[PlannedJob] = []
    for j, precision in enumerate(precisions):
        backend = entry.backend or defn.backends.get(precision)
        if precision not in defn.backends or backend is None:
            raise ConfigError(f"precision {precision!r} does not apply to {entry.workload} (available: "
                              f"{', '.join(defn.backends)})", file=suite_file, key=f"{where}.precisions[{j}]")
        for pruning in entry.pruning:
            if pruning != "none":
                raise ConfigError(f"pruning {pruning!r} does not apply to kernel {entry.workload}",
                                  file=suite_file, key=f"{where}.pruning")
            for combo in sweep(entry.params):
                params = load_model(defn.params_model, combo, suite_file, prefix=(where, "params"))
                pdict = params.model_dump()
                key = job_key(defn.name, backend, precision, pruning, pdict)
                if key in seen:
                    continue
                seen.add(key)
                art = None
                if defn.artifact is not None and backend in defn.artifact_backends:
                    art = _artifact(defn, params, precision, entry.seed, cache_dir)
                timing = entry.timing or suite.timing
                spec = JobSpec(job_key=key, workload=defn.name, backend=backend, precision=precision,
                               params=pdict, pruning=pruning, artifact=art.name if art else None,
                               timing=TimingPlan(**timing.model_dump()), timeout_s=entry.timeout_s,
                               seed=entry.seed)
                out.append(PlannedJob(spec=spec, work=defn.work(params, precision), artifact_path=art))
    return out
