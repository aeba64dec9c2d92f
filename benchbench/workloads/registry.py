"""Suite entries → planned jobs: each kind of workload is one expander module, registered here in one place.

An expander module has ``NAMES`` (the suite workloads it owns, for the unknown-workload message),
``handles(entry)`` and ``expand(entry, i, ctx) -> list[PlannedJob]`` with one ``plan.ExpandContext``; one
that takes ``benchbench run --model FILE`` also has ``BYO_SUFFIXES`` and ``byo_suite(...)``. The first
expander that handles an entry expands it, so the runtime-specific ones (a .tflite, ``backend: torch``, a
.gguf) come before the ONNX model expander, and the reference kernels come last. A new runtime is one
expander module plus its line in ``EXPANDERS``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ..config.suite import Suite
from ..errors import ConfigError
from . import gguf_jobs, kernels, model_jobs, pytest_jobs, tflite_jobs, torch_jobs
from .plan import ExpandContext, PlannedJob, local_arch

EXPANDERS: tuple[ModuleType, ...] = (pytest_jobs, tflite_jobs, torch_jobs, gguf_jobs, model_jobs, kernels)


def workload_names() -> list[str]:
    return sorted({n for e in EXPANDERS for n in e.NAMES})


def expand(suite: Suite, suite_file: str | None, cache_dir: Path, target_arch: str | None = None
           ) -> list[PlannedJob]:
    """Every (entry × precision × pruning × param combination), validated, with artifacts built.

    Model entries get their variants made on the controller; ``target_arch`` picks their int8 flavour
    (default: this machine's, i.e. the local board).
    """
    ctx = ExpandContext(suite=suite, suite_file=suite_file, cache_dir=cache_dir, seen=set(),
                        target_arch=target_arch or local_arch())
    names = workload_names()
    jobs: list[PlannedJob] = []
    for i, entry in enumerate(suite.jobs):
        # a name no expander owns is bad input before any expander sees it: one that handles a whole backend
        # (``backend: torch``) would otherwise report it under another key
        expander = (next((e for e in EXPANDERS if e.handles(entry)), None) if entry.workload in names
                    else None)
        if expander is None:
            raise ConfigError(f"unknown workload {entry.workload!r} (known: {', '.join(names)})",
                              file=suite_file, key=f"jobs[{i}].workload")
        jobs.extend(expander.expand(entry, i, ctx))
    return jobs


def byo_suite(model_path: str | Path, shapes: list[str], inputs: list[str], inputs_npz: str | None,
              precisions: list[str] | None) -> Suite:
    """The suite behind ``benchbench run --model PATH``: the expander that owns the file's suffix builds it
    (ONNX when none does)."""
    owner = next((e for e in EXPANDERS if str(model_path).lower().endswith(getattr(e, "BYO_SUFFIXES", ()))),
                 model_jobs)
    suite: Suite = owner.byo_suite(model_path, shapes, inputs, inputs_npz, precisions)
    return suite
