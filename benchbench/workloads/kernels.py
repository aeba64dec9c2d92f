"""Reference kernels: GEMM, 3×3 and depthwise convolution, a STREAM-like triad, and a busy loop."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..agent.protocol import JobSpec
from ..config.loader import validate_as
from ..config.suite import JobEntry, sweep
from ..errors import ConfigError
from . import onnx_ops
from .plan import ExpandContext, PlannedJob, Work, job_key


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


_REGISTRY: dict[str, WorkloadDef] = {}


def register(defn: WorkloadDef) -> None:
    _REGISTRY[defn.name] = defn


def catalogue() -> dict[str, WorkloadDef]:
    """The reference kernels by name (``benchbench workloads list``)."""
    return dict(_REGISTRY)


_BYTES = {"fp64": 8, "fp32": 4, "fp16": 2, "int8": 1}


#: kernels are reference probes, not stress tests: operands beyond this would swap or OOM a board
MAX_OPERAND_BYTES = 4 << 30
Dim = Annotated[int, Field(gt=0, le=1 << 20)]


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def operand_elements(self) -> int:
        return 0

    @model_validator(mode="after")
    def _fits(self) -> _P:
        need = self.operand_elements() * 8  # fp64 is the widest precision a kernel runs at
        if need > MAX_OPERAND_BYTES:
            raise ValueError(f"operands need {need / (1 << 30):.3g} GiB at fp64; the largest allowed is "
                             f"{MAX_OPERAND_BYTES >> 30} GiB")
        return self


class GemmParams(_P):
    m: Dim = 512
    k: Dim = 512
    n: Dim = 512

    def operand_elements(self) -> int:
        return self.m * self.k + self.k * self.n + self.m * self.n


class ConvParams(_P):
    batch: Dim = 1
    channels: Dim = 64
    out_channels: Dim | None = None
    height: Dim = 56
    width: Dim = 56
    kernel: Annotated[int, Field(gt=0, le=15)] = 3

    def operand_elements(self) -> int:
        out = self.out_channels or self.channels
        return (self.batch * (self.channels + out) * self.height * self.width
                + out * self.channels * self.kernel ** 2)


class DwConvParams(_P):
    batch: Dim = 1
    channels: Dim = 256
    height: Dim = 28
    width: Dim = 28
    kernel: Annotated[int, Field(gt=0, le=15)] = 3

    def operand_elements(self) -> int:
        return 2 * self.batch * self.channels * self.height * self.width + self.channels * self.kernel ** 2


class TriadParams(_P):
    n: Annotated[int, Field(gt=0, le=1 << 31)] = 4_000_000

    def operand_elements(self) -> int:
        return 3 * self.n


class BusyParams(_P):
    #: pure-Python loop iterations: 10⁹ is already tens of seconds on a fast core
    n: Annotated[int, Field(gt=0, le=10**9)] = 1000


def _ops_unit(precision: str) -> str:
    return "OP" if precision.startswith("int") else "FLOP"


def _gemm_work(p: BaseModel, precision: str) -> Work:
    assert isinstance(p, GemmParams)
    size = _BYTES.get(precision, 4)
    return Work(ops_per_call=2.0 * p.m * p.k * p.n, ops_unit=_ops_unit(precision),
                bytes_per_call=float(size * (p.m * p.k + p.k * p.n)
                                     + (4 if precision == "int8" else size) * p.m * p.n))


def _conv_work(p: BaseModel, precision: str) -> Work:
    assert isinstance(p, ConvParams)
    cout = p.out_channels or p.channels
    ops = 2.0 * p.batch * cout * p.height * p.width * p.channels * p.kernel ** 2
    return Work(ops_per_call=ops, ops_unit=_ops_unit(precision), items_per_call=p.batch, item_unit="image")


def _dw_work(p: BaseModel, precision: str) -> Work:
    assert isinstance(p, DwConvParams)
    ops = 2.0 * p.batch * p.channels * p.height * p.width * p.kernel ** 2
    return Work(ops_per_call=ops, ops_unit=_ops_unit(precision), items_per_call=p.batch, item_unit="image")


def _triad_work(p: BaseModel, precision: str) -> Work:
    assert isinstance(p, TriadParams)
    return Work(ops_per_call=2.0 * p.n, bytes_per_call=3.0 * p.n * _BYTES[precision])


def _gemm_art(p: BaseModel, precision: str, seed: int) -> bytes:
    assert isinstance(p, GemmParams)
    return onnx_ops.matmul(p.m, p.k, p.n, precision, seed)


def _conv_art(p: BaseModel, precision: str, seed: int) -> bytes:
    assert isinstance(p, ConvParams)
    return onnx_ops.conv(p.batch, p.channels, p.out_channels or p.channels, p.height, p.width, p.kernel, 1,
                         precision, seed)


def _dw_art(p: BaseModel, precision: str, seed: int) -> bytes:
    assert isinstance(p, DwConvParams)
    return onnx_ops.conv(p.batch, p.channels, p.channels, p.height, p.width, p.kernel, p.channels,
                         precision, seed)


_ORT3 = {"fp32": "onnxruntime", "fp16": "onnxruntime", "int8": "onnxruntime"}

register(WorkloadDef("gemm", "dense matrix multiply C = A·B (M×K · K×N)", GemmParams,
                     {**_ORT3, "fp64": "numpy"}, _gemm_work, _gemm_art))
register(WorkloadDef("conv3x3", "3×3 convolution, same padding, stride 1 (NCHW)", ConvParams, dict(_ORT3),
                     _conv_work, _conv_art))
register(WorkloadDef("dwconv", "depthwise 3×3 convolution (group = channels)", DwConvParams, dict(_ORT3),
                     _dw_work, _dw_art))
register(WorkloadDef("triad", "STREAM-like triad a = b + s·c (memory bandwidth)", TriadParams,
                     {"fp64": "numpy", "fp32": "numpy"}, _triad_work))
register(WorkloadDef("busy", "pure-Python busy loop of known cost (timer checks)", BusyParams,
                     {"fp64": "python"}, lambda p, prec: Work()))


NAMES = tuple(_REGISTRY)


def handles(entry: JobEntry) -> bool:
    return entry.workload in _REGISTRY


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


def expand(entry: JobEntry, i: int, ctx: ExpandContext) -> list[PlannedJob]:
    """A reference kernel entry: (precision × param combination) jobs, artifacts built and cached."""
    where = f"jobs[{i}]"
    suite_file, cache_dir = ctx.suite_file, ctx.cache_dir
    defn = _REGISTRY[entry.workload]
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
                params = validate_as(defn.params_model, combo, suite_file or "", prefix=(where, "params"))
                pdict = params.model_dump()
                key = job_key(defn.name, backend, precision, pruning, pdict)
                if not ctx.claim(key):
                    continue
                art = None
                if defn.artifact is not None and backend in defn.artifact_backends:
                    art = _artifact(defn, params, precision, entry.seed, cache_dir)
                spec = JobSpec(job_key=key, workload=defn.name, backend=backend, precision=precision,
                               params=pdict, pruning=pruning, artifact=art.name if art else None,
                               timing=ctx.timing(entry), timeout_s=entry.timeout_s, seed=entry.seed)
                out.append(PlannedJob(spec=spec, work=defn.work(params, precision), artifact_path=art))
    return out
