"""Agent result lines → job records (metrics computed, raw values kept for recomputation)."""

from __future__ import annotations

from typing import Any

from ..agent.protocol import JobLine
from ..results.records import JobRecord
from ..workloads.plan import PlannedJob
from .metrics import job_metrics, variant_metrics


def job_record(run_id: str, board: str, line: JobLine, planned: PlannedJob | None,
               headline: str | None = None, power_limits: list[dict[str, Any]] | None = None) -> JobRecord:
    """``headline``: the board profile's headline power channel name (else the widest scope is used);
    ``power_limits``: the profile's, as carried in the board snapshot (implausible figures are voided)."""
    result = line.result
    spec = line.spec or (planned.spec if planned else None)
    work = planned.work.to_dict() if planned else {}
    variant = planned.meta if planned else {}
    metrics, warnings = job_metrics(result, work, spec.precision if spec else None,
                                    spec.timing.min_value_s if spec else None, variant,
                                    headline=headline, power_limits=power_limits or ())
    # stored as the agent wrote them (to_dict gives back what was read, in the wire's key order)
    timing = result.timing.to_dict() if result.timing else {}
    rounds = timing.pop("rounds", [])
    sensors = result.sensors.to_dict() if result.sensors else {}
    series = sensors.pop("series", None)
    raw: dict[str, Any] = {}
    if rounds:
        raw["latency_rounds"] = rounds
    if series and series.get("t_ns") and result.sensors:
        raw["sensor_series"] = {"channels": [c.channel.to_dict() for c in result.sensors.channels], **series}
    details = {"timing": timing, "extra": result.extra, "sensors": sensors,
               "memory": result.memory.to_dict() if result.memory else {}, "setup_s": result.setup_s,
               "throttle": result.throttle, "energy": [e.to_dict() for e in result.energy],
               "preparation": result.preparation}
    # fair comparisons (#9), steady energy (#10)
    for key, value in (("contention", result.contention), ("interleave", result.interleave),
                       ("energy_phase", result.energy_phase)):
        if value:
            details[key] = value
    if variant:  # model variant facts made on the controller: recipe, tools, fidelity, op histogram, pruning
        details["variant"] = variant
    return JobRecord(
        run_id=run_id, board=board, job_key=result.job_key, workload=spec.workload if spec else "?",
        backend=spec.backend if spec else "?", precision=spec.precision if spec else "?",
        # the planned params: a board's provider preference (sent to the agent only) must not split one job
        pruning=spec.pruning if spec else "none",
        params=planned.spec.params if planned else spec.params if spec else {}, status=result.status,
        reason=result.reason, stderr_tail=result.stderr_tail,
        implementation=result.implementation, timed_window=result.timed_window,
        started_at=result.started_at_unix, duration_s=result.duration_s, work=work,
        env=result.env, details=details, metrics=tuple(metrics), warnings=tuple(warnings), raw=raw)


def failed_record(run_id: str, board: str, planned: PlannedJob, status: str, reason: str) -> JobRecord:
    """A job the board never ran (board unreachable, deploy failed…): stored so the run says why."""
    s = planned.spec
    variant = planned.meta
    return JobRecord(run_id=run_id, board=board, job_key=s.job_key, workload=s.workload, backend=s.backend,
                     precision=s.precision, pruning=s.pruning, params=s.params, status=status, reason=reason,
                     work=planned.work.to_dict(), details={"variant": variant} if variant else {},
                     metrics=tuple(variant_metrics(variant)) if variant else ())
