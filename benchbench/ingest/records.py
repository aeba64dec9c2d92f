"""Agent result lines → job records (metrics computed, raw values kept for recomputation)."""

from __future__ import annotations

from typing import Any

from ..analysis.summary import job_metrics, variant_metrics
from ..results.records import JobRecord
from ..workloads.plan import PlannedJob


def job_record(run_id: str, board: str, payload: dict[str, Any], planned: PlannedJob | None,
               headline: str | None = None, power_limits: list[dict[str, Any]] | None = None) -> JobRecord:
    """``headline``: the board profile's headline power channel name (else the widest scope is used);
    ``power_limits``: the profile's, as carried in the board snapshot (implausible figures are voided)."""
    result: dict[str, Any] = payload["result"]
    spec: dict[str, Any] = payload.get("spec") or (planned.spec.to_dict() if planned else {})
    work = planned.work.to_dict() if planned else {}
    timing_plan = spec.get("timing") or {}
    variant = planned.meta if planned else {}
    metrics, warnings = job_metrics(result, work, spec.get("precision"), timing_plan.get("min_value_s"), variant,
                                    headline=headline, power_limits=power_limits or ())
    timing = dict(result.get("timing") or {})
    rounds = timing.pop("rounds", [])
    sensors = dict(result.get("sensors") or {})
    series = sensors.pop("series", None)
    raw: dict[str, Any] = {}
    if rounds:
        raw["latency_rounds"] = rounds
    if series and series.get("t_ns"):
        raw["sensor_series"] = {"channels": [c["channel"] for c in sensors.get("channels", [])], **series}
    details = {"timing": timing, "extra": result.get("extra") or {}, "sensors": sensors,
               "memory": result.get("memory") or {}, "setup_s": result.get("setup_s"),
               "throttle": result.get("throttle"), "energy": result.get("energy") or [],
               "preparation": result.get("preparation") or {}}
    for key in ("contention", "interleave", "energy_phase"):  # fair comparisons (#9), steady energy (#10)
        if result.get(key):
            details[key] = result[key]
    if variant:  # model variant facts made on the controller: recipe, tools, fidelity, op histogram, pruning
        details["variant"] = variant
    return JobRecord(
        run_id=run_id, board=board, job_key=result["job_key"], workload=spec.get("workload", "?"),
        backend=spec.get("backend", "?"), precision=spec.get("precision", "?"),
        # the planned params: a board's provider preference (sent to the agent only) must not split one job
        pruning=spec.get("pruning", "none"), params=planned.spec.params if planned else spec.get("params", {}),
        status=result["status"],
        reason=result.get("reason"), stderr_tail=result.get("stderr_tail"),
        implementation=result.get("implementation"), timed_window=result.get("timed_window"),
        started_at=result.get("started_at_unix"), duration_s=result.get("duration_s"), work=work,
        env=result.get("env") or {}, details=details, metrics=tuple(metrics), warnings=tuple(warnings), raw=raw)


def failed_record(run_id: str, board: str, planned: PlannedJob, status: str, reason: str) -> JobRecord:
    """A job the board never ran (board unreachable, deploy failed…): stored so the run says why."""
    s = planned.spec
    variant = planned.meta
    return JobRecord(run_id=run_id, board=board, job_key=s.job_key, workload=s.workload, backend=s.backend,
                     precision=s.precision, pruning=s.pruning, params=s.params, status=status, reason=reason,
                     work=planned.work.to_dict(), details={"variant": variant} if variant else {},
                     metrics=tuple(variant_metrics(variant)) if variant else ())
