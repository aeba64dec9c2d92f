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
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from ..errors import ConfigError
from .loader import load_model, read_yaml

_BUILTIN_DIR = Path(__file__).resolve().parent.parent / "suites"


class TimingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    warmup_min_iters: PositiveInt = 3
    warmup_s: float = Field(default=0.2, ge=0)
    min_value_s: PositiveFloat = 0.01
    rounds: PositiveInt = 5
    values_per_round: PositiveInt = 10
    max_timed_s: PositiveFloat = 20.0
    disable_gc: bool = True


class SamplingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    interval_s: PositiveFloat = 0.02
    families: list[str] | None = None  # None: the device profile's (or the built-in default) list
    measure_overhead: bool = True


class JobEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    workload: str
    backend: str | None = None
    precisions: list[str] | None = None
    pruning: list[str] = ["none"]
    params: dict[str, Any] = {}
    timing: TimingSettings | None = None
    timeout_s: PositiveFloat = 300.0
    seed: int = 0


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    timing: TimingSettings = Field(default_factory=TimingSettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    jobs: list[JobEntry] = Field(min_length=1)


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
    return load_model(Suite, read_yaml(path), str(path))


def sweep(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand list-valued params into their cartesian product (keys in a stable order).

    Keys ending in ``_list`` or named ``providers``/``input_shapes`` hold lists as values, not sweeps.
    """
    keys = sorted(params)
    axes = [params[k] if isinstance(params[k], list) and k not in _LIST_VALUED else [params[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes)]


_LIST_VALUED = {"providers", "input_shapes", "inputs"}


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def suite_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
