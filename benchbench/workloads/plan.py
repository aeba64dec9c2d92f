"""The plan types every expander produces, and the one context object they all receive (a leaf module: it
imports nothing else from ``workloads``, so expanders and the registry can all depend on it)."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agent.protocol import JobSpec, TimingPlan
from ..config.suite import JobEntry, Suite
from ..results.keys import params_key


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


def job_key(workload: str, backend: str, precision: str, pruning: str, params: dict[str, Any]) -> str:
    return f"{workload}|{backend}|{precision}|{pruning}|{params_key(params)}"


def local_arch() -> str:
    """Target architecture for the int8 flavour when the board is the local machine (the controller)."""
    return platform.machine() or "x86_64"


@dataclass(frozen=True)
class ExpandContext:
    """What every expander gets besides its entry: the suite (for defaults), the suite file (errors name it;
    ``staging.BYO_FLAGS`` for a ``run --model`` invocation), the controller's cache, the job keys already
    planned (a key planned twice runs once) and the target architecture (the int8 flavour)."""

    suite: Suite
    suite_file: str | None
    cache_dir: Path
    seen: set[str]
    target_arch: str

    def timing(self, entry: JobEntry) -> TimingPlan:
        return TimingPlan(**(entry.timing or self.suite.timing).model_dump())

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is planned (then it is taken)."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True
