"""Suites: which workloads, precisions and sizes to run, and how to time them.

```yaml
name: quick
timing: {rounds: 3, values_per_round: 10, min_value_s: 0.01}
jobs:
  - workload: gemm
    precisions: [fp32, fp16, int8]
    params: {m: 512, k: 512, n: [256, 512]}   # a list sweeps
```
Params are validated by each workload's own model, so ``n: big`` fails as ``jobs[0].params.n``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from ..agent.protocol import BACKEND_MODULES, SAMPLER_FAMILIES
from ..errors import ConfigError
from .loader import read_yaml, validate_as

_BUILTIN_DIR = Path(__file__).resolve().parent.parent / "suites"

#: the agent's backends: any other name would only turn every job into ``unsupported``
BACKENDS = tuple(BACKEND_MODULES)
#: a suite that expands to more jobs than this is almost certainly a typo'd sweep; ``max_jobs`` raises it
DEFAULT_MAX_JOBS = 10_000

_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TimingSettings(BaseModel):
    """Bounded so that one job's timed part cannot outlast ``max_timed_s``: the agent shrinks values per
    round to the budget but always times at least one value per round, so ``rounds × min_value_s`` must
    fit."""

    model_config = _STRICT
    warmup_min_iters: PositiveInt = Field(default=3, le=1_000_000)
    warmup_s: float = Field(default=0.2, ge=0, le=600)
    min_value_s: PositiveFloat = Field(default=0.01, le=60)
    rounds: PositiveInt = Field(default=5, le=10_000)
    values_per_round: PositiveInt = Field(default=10, le=1_000_000)
    max_timed_s: PositiveFloat = Field(default=20.0, le=3600)
    disable_gc: bool = True
    #: live worker processes per interleaved group of variants (the reference plus up to N-1 variants)
    max_live_workers: int = Field(default=8, ge=2, le=256)

    @model_validator(mode="after")
    def _bounded(self) -> TimingSettings:
        if self.rounds * self.min_value_s > self.max_timed_s:
            raise ValueError(f"rounds × min_value_s = {self.rounds * self.min_value_s:g} s exceeds "
                             f"max_timed_s = {self.max_timed_s:g} s (every round times at least one value); "
                             "lower rounds or min_value_s, or raise max_timed_s")
        return self


class SamplingSettings(BaseModel):
    model_config = _STRICT
    interval_s: PositiveFloat = Field(default=0.02, ge=0.0001, le=60)
    families: list[str] | None = None  # None: the device profile's (or the built-in default) list
    measure_overhead: bool = True

    @field_validator("families")
    @classmethod
    def _families(cls, v: list[str] | None) -> list[str] | None:
        for fam in v or ():
            if fam.partition("@")[0] not in SAMPLER_FAMILIES:
                known = ", ".join(sorted(SAMPLER_FAMILIES))
                raise ValueError(f"unknown sampler family {fam!r} (known: {known})")
        return v


class JobEntry(BaseModel):
    model_config = _STRICT
    workload: str = Field(min_length=1, max_length=200)
    backend: str | None = None
    #: None: every precision the workload has; an empty list is a mistake, not "all"
    precisions: list[str] | None = Field(default=None, min_length=1)
    pruning: list[str] = Field(default=["none"], min_length=1)
    params: dict[str, Any] = {}
    timing: TimingSettings | None = None
    timeout_s: PositiveFloat = Field(default=300.0, le=7 * 86400)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str | None) -> str | None:
        if v is not None and v not in BACKENDS:
            raise ValueError(f"unknown backend {v!r} (known: {', '.join(BACKENDS)})")
        return v

    def n_jobs(self) -> int:
        """Jobs this entry expands to at least (unlisted precisions count once)."""
        combos = math.prod(len(v) for k, v in self.params.items()
                           if isinstance(v, list) and k not in _LIST_VALUED)
        return combos * len(self.precisions or [None]) * len(self.pruning)


class Suite(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    timing: TimingSettings = Field(default_factory=TimingSettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    jobs: list[JobEntry] = Field(min_length=1)
    #: the cap on the total number of jobs (see DEFAULT_MAX_JOBS)
    max_jobs: PositiveInt = DEFAULT_MAX_JOBS

    def check_job_cap(self, file: str) -> None:
        total = sum(e.n_jobs() for e in self.jobs)
        if total > self.max_jobs:
            raise ConfigError(f"the suite expands to at least {total} jobs, more than max_jobs = "
                              f"{self.max_jobs}", file=file, key="jobs",
                              hint=f"shorten the sweeps, or put 'max_jobs: {total}' at the top of the suite "
                              "to allow it")


def builtin_suites() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_BUILTIN_DIR.glob("*.yaml"))}


def resolve_suite_path(name_or_path: str | None) -> Path:
    """A path, or the name of a built-in suite (``quick`` is the default)."""
    name_or_path = name_or_path or "quick"
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    known = builtin_suites()
    if name_or_path in known:
        return known[name_or_path]
    raise ConfigError(f"no suite file or built-in suite named {name_or_path!r} (built-in: "
                      f"{', '.join(known) or 'none'})", key="--suite")


def load_suite(path: Path) -> Suite:
    suite = validate_as(Suite, read_yaml(path), str(path))
    suite.check_job_cap(str(path))
    return suite


def sweep(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand list-valued params into their cartesian product (keys in a stable order).

    Keys ending in ``_list`` or named ``providers``/``input_shapes`` hold lists as values, not sweeps.
    """
    keys = sorted(params)
    axes = [params[k] if isinstance(params[k], list) and k not in _LIST_VALUED else [params[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes)]


_LIST_VALUED = {"providers", "input_shapes", "inputs"}


def suite_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
