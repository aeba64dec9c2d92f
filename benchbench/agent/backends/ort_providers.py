"""Execution providers for the ONNX Runtime backends: which were asked for, which exist, which run.

``params["providers"]`` is an ordered preference (the board profile's, or the suite's). The available
ones are used in that order; when none of the preferred accelerators exists the job runs on the CPU and
says so (``providers_note``), unless the suite set ``params["require_providers"]``: then every listed
provider must exist and a missing one makes the job ``unsupported``.

``node_placement`` answers "which nodes ran where" with ORT's own profiler in a separate session after
the timed part (profiling costs 10-20 % on many-node graphs, so it never touches the timed session).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Tuple

from ..protocol import JobSpec
from . import Unsupported

CPU = "CPUExecutionProvider"


def select(ort: Any, job: JobSpec) -> Tuple[List[str], Dict[str, Any]]:
    """The providers to create sessions with, and the facts to record (``extra``)."""
    requested: List[str] = list(job.params.get("providers") or [CPU])
    available: List[str] = list(ort.get_available_providers())
    missing = [p for p in requested if p not in available]
    if missing and job.params.get("require_providers"):
        raise Unsupported("execution provider(s) {} required by the suite are not available on this board "
                          "(onnxruntime {} has: {})"
                          .format(", ".join(missing), ort.__version__, ", ".join(available)))
    chosen = [p for p in requested if p in available] or [CPU]
    info: Dict[str, Any] = {"providers_requested": requested, "providers_available": available,
                            "require_providers": bool(job.params.get("require_providers"))}
    return chosen, info


def record_used(sess: Any, info: Dict[str, Any], job: JobSpec) -> None:
    """Adds ``providers_used`` and, for a CPU fallback, ``provider_fallback`` and a note. A provider can be
    listed as available and still fail to start (missing CUDA/TensorRT libraries): the session's own list
    is the truth."""
    used: List[str] = list(sess.get_providers())
    info["providers_used"] = used
    wanted_accel = [p for p in info["providers_requested"] if p != CPU]
    if not wanted_accel:
        info["provider_fallback"] = False
        return
    not_used = [p for p in wanted_accel if p not in used]
    info["provider_fallback"] = not any(p != CPU for p in used)
    if info["provider_fallback"]:
        if job.params.get("require_providers"):
            raise Unsupported("execution provider(s) {} required by the suite did not start "
                              "(session runs on: {})".format(", ".join(wanted_accel), ", ".join(used)))
        absent = [p for p in wanted_accel if p not in info["providers_available"]]
        why = ("not in this onnxruntime build ({})".format(", ".join(info["providers_available"])) if absent
               else "listed as available but failed to start")
        info["providers_note"] = ("CPU FALLBACK: asked for {}, {}; this job ran on {}"
                                  .format(", ".join(wanted_accel), why, ", ".join(used)))
    elif not_used:
        info["providers_note"] = "preferred {} unavailable; ran on {}".format(", ".join(not_used),
                                                                             ", ".join(used))


def node_placement(ort: Any, path: str, make_options: Callable[[], Any], providers: List[str],
                   feeds: Dict[str, Any]) -> Dict[str, Any]:
    """One profiled run in a fresh session → ``{"node_placement": {provider: {op_type: count}}}``.

    ORT's profile is a JSON list of trace events; each node's ``*_kernel_time`` event carries
    ``args.provider`` and ``args.op_name``. The profile file is deleted. Failure to profile is recorded,
    never fatal: the job's measurement is already complete.
    """
    tmp = tempfile.mkdtemp(prefix="bb-ortprof-")
    try:
        so = make_options()
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "profile")
        sess = ort.InferenceSession(path, sess_options=so, providers=providers)
        sess.run(None, feeds)
        prof_path = sess.end_profiling()
        with open(prof_path) as fh:
            events = json.load(fh)
    except Exception as exc:  # noqa: BLE001  documented boundary: ORT's untyped errors, a bad profile; the job stays ok
        return {"node_placement_error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    placement: Dict[str, Dict[str, int]] = {}
    seen = set()
    for ev in events if isinstance(events, list) else []:
        args = ev.get("args") or {}
        name = str(ev.get("name", ""))
        if ev.get("cat") != "Node" or not name.endswith("_kernel_time") or "provider" not in args:
            continue
        if name in seen:
            continue
        seen.add(name)
        ops = placement.setdefault(str(args["provider"]), {})
        op = str(args.get("op_name", "?"))
        ops[op] = ops.get(op, 0) + 1
    return {"node_placement": placement,
            "node_placement_method": "onnxruntime profiler, one run in a separate session after timing"}
