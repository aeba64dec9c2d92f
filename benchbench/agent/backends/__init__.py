"""How a workload executes on the board. Each backend module imports its runtime lazily inside
``prepare`` so that a missing runtime becomes an ``unsupported`` job, not an agent crash."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from ..protocol import BACKEND_MODULES, JobSpec


class Unsupported(Exception):
    """This board cannot run the job (runtime missing, precision not available…): not a failure."""


class WorkloadFailed(Exception):
    """The workload itself failed (bad model input, runtime error)."""


def artifact_path(job: JobSpec, artifacts_dir: str, missing: str) -> str:
    """The job's model file on the board; WorkloadFailed(``missing``) when the job names none."""
    if not job.artifact:
        raise WorkloadFailed(missing)
    return os.path.join(artifacts_dir, job.artifact)


@dataclass
class Prepared:
    fn: Callable[[], Any]
    implementation: str
    #: what lies inside the timed window, in words
    timed_window: str
    extra: Dict[str, Any] = field(default_factory=dict)
    teardown: Optional[Callable[[], None]] = None
    #: a backend that times itself (pytest-benchmark) returns (TimingResult, memory dict, extra) from this
    #: instead of having ``fn`` timed by the engine; the worker stores them as its own. Its argument is the
    #: steady-state energy window (s, 0: none); the backend runs that loop itself and puts its window
    #: (t_start_ns, t_end_ns, calls, holds) into ``extra["energy_phase"]``, and may replace ``timed_window``
    #: with ``extra["timed_window"]`` when the window is known only after the run
    run_self: Optional[Callable[[float], Tuple[Any, Dict[str, Any], Dict[str, Any]]]] = None
    #: diagnostics that must not perturb the measurement (ORT's per-node profiling): called after timing and
    #: the memory readings; its dict is merged into ``extra``
    after_timing: Optional[Callable[[], Dict[str, Any]]] = None


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    modname = BACKEND_MODULES.get(job.backend)
    if modname is None:
        raise Unsupported("this agent has no backend {!r} (known: {})"
                          .format(job.backend, ", ".join(sorted(BACKEND_MODULES))))
    mod = importlib.import_module(modname, __name__)
    return mod.prepare(job, artifacts_dir)  # type: ignore[no-any-return]
