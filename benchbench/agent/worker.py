"""One job in one fresh process: prepare the workload, time it, report memory. Writes a JSON result.

A fresh process per job keeps VmHWM meaningful and stops one runtime's thread pool from spinning into
the next job's timings.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict
from typing import Any, Dict

from . import memory
from .backends import Unsupported, WorkloadFailed, prepare
from .protocol import JobSpec
from .timing import measure


def run_job(job: JobSpec, artifacts_dir: str) -> Dict[str, Any]:
    res: Dict[str, Any] = {"job_key": job.job_key, "status": "ok", "reason": None}
    t0 = time.monotonic_ns()
    try:
        prepared = prepare(job, artifacts_dir)
    except Unsupported as exc:
        res.update(status="unsupported", reason=str(exc))
        return res
    except WorkloadFailed as exc:
        res.update(status="failed", reason=str(exc))
        return res
    setup_status = memory.status_bytes()
    res.update(implementation=prepared.implementation, timed_window=prepared.timed_window, extra=prepared.extra,
               setup_s=(time.monotonic_ns() - t0) / 1e9)
    if prepared.run_self is not None:
        return _self_timed(res, prepared)
    can_reset = memory.reset_peak()
    try:
        timing = measure(prepared.fn, job.timing)
    except Exception as exc:  # job boundary: a crashing workload becomes a failed record, with its traceback
        res.update(status="failed", reason="workload raised %s: %s" % (type(exc).__name__, exc),
                   stderr_tail=traceback.format_exc()[-2000:])
        return res
    finally:
        if prepared.teardown:
            prepared.teardown()
    after = memory.status_bytes()
    res["timing"] = asdict(timing)
    peak_timed = after.get("VmHWM") if can_reset else None
    res["memory"] = {
        "method": "VmHWM from /proc/self/status in a fresh worker process"
                  + ("; reset via clear_refs before timing" if can_reset else ""),
        "rss_after_setup_bytes": setup_status.get("VmRSS"),
        "peak_rss_setup_bytes": setup_status.get("VmHWM"),
        "peak_rss_timed_bytes": peak_timed,
        "peak_rss_bytes": max(v for v in (setup_status.get("VmHWM"), after.get("VmHWM"), 0) if v is not None)
        or None,
    }
    if prepared.after_timing is not None:
        res["extra"] = dict(res.get("extra") or {}, **prepared.after_timing())
    return res


def _self_timed(res: Dict[str, Any], prepared: Any) -> Dict[str, Any]:
    """A backend with its own timer (pytest-benchmark in a child process): its timing, memory and extra."""
    try:
        timing, mem, extra = prepared.run_self()
    except WorkloadFailed as exc:
        res.update(status="failed", reason=str(exc))
        return res
    finally:
        if prepared.teardown:
            prepared.teardown()
    res["timing"] = asdict(timing)
    res["memory"] = mem
    res["extra"] = dict(res.get("extra") or {}, **extra)
    return res


def main(job_path: str, out_path: str, artifacts_dir: str) -> int:
    with open(job_path) as fh:
        job = JobSpec.from_dict(json.load(fh))
    res = run_job(job, artifacts_dir)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(res, fh, default=str)
    os.replace(tmp, out_path)
    return 0
