"""Versioned JSON protocol between the host controller and the on-board agent.

The host writes a :class:`RunRequest` as JSON; the agent appends one JSON object per line to a results
file (and echoes each line on stdout): a ``board`` line with the board snapshot, one ``job`` line per
finished job, and an ``end`` line. ``schema_version`` is checked on both sides so version skew fails
loudly instead of by luck. This module is stdlib-only and Python 3.8 compatible.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional

SCHEMA_VERSION = 1
AGENT_VERSION = "0.1.0"

#: sensor families an agent of this protocol version can probe (board options follow an ``@``)
SAMPLER_FAMILIES = ("cpufreq", "thermal", "memory", "rapl", "hwmon", "jetson", "tegrastats", "rpi", "rk3588",
                    "ascend", "nvml", "ptdaemon")
#: what a board without a device profile is sampled with (host: ``families_for``; the agent's defaults)
DEFAULT_FAMILIES = ("cpufreq", "thermal", "memory", "rapl", "hwmon")
#: where a power/energy number comes from: "total power" means something different on each board
POWER_SCOPES = ("wall", "board_input", "module_input", "rails_sum", "accelerator", "cpu_package",
                "gpu_board", "rail")

JOB_STATUSES = ("ok", "failed", "timeout", "unsupported", "skipped", "interrupted")
RUN_END_STATUSES = ("complete", "interrupted", "error")


class ProtocolError(ValueError):
    """A message does not follow this protocol (wrong version, missing or mistyped field)."""


def _check_version(data: Dict[str, Any], what: str) -> None:
    got = data.get("schema_version")
    if got != SCHEMA_VERSION:
        raise ProtocolError(
            "%s has schema_version %r, this side speaks %d" % (what, got, SCHEMA_VERSION))


def _build(cls: Any, data: Dict[str, Any], what: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ProtocolError("%s: unknown field(s) %s" % (what, ", ".join(sorted(unknown))))
    try:
        return cls(**data)
    except TypeError as exc:  # missing required fields
        raise ProtocolError("%s: %s" % (what, exc)) from None


@dataclass(frozen=True)
class TimingPlan:
    """How one job is timed (see ``runner``/``timing``)."""

    warmup_min_iters: int = 3
    warmup_s: float = 0.2
    #: one timed value should last at least this long (iterations are calibrated to reach it)
    min_value_s: float = 0.01
    rounds: int = 5
    values_per_round: int = 10
    #: budget for the timed part; values per round shrink (with a warning) to stay inside it
    max_timed_s: float = 20.0
    disable_gc: bool = True
    #: variants of one model measured interleaved keep at most this many worker processes alive at once
    #: (memory on small boards); a larger group runs in chunks, each with the group's reference
    max_live_workers: int = 8

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TimingPlan":
        return _build(cls, data, "timing")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SamplingPlan:
    """Which sensor families to probe and how often to read them."""

    interval_s: float = 0.02
    families: List[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))
    root: str = "/"
    #: measure the latency of a reference kernel with and without sampling at run start
    measure_overhead: bool = True

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "SamplingPlan":
        return _build(cls, data, "sampling")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class JobSpec:
    """One measurement on one board."""

    job_key: str
    workload: str
    backend: str
    precision: str
    params: Dict[str, Any]
    pruning: str = "none"
    #: file name of the model/artifact inside the agent's artifacts directory
    artifact: Optional[str] = None
    timing: TimingPlan = field(default_factory=TimingPlan)
    timeout_s: float = 300.0
    seed: int = 0
    #: jobs sharing a group (the variants of one model on one board) are measured interleaved: one worker
    #: process each, timed rounds round-robin across them, so their per-round latencies can be paired
    group: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "JobSpec":
        data = dict(data)
        data["timing"] = TimingPlan.from_dict(data.get("timing", {}))
        return _build(cls, data, "job")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    board: str
    jobs: List[JobSpec]
    sampling: SamplingPlan = field(default_factory=SamplingPlan)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunRequest":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProtocolError("run request is not JSON: %s" % exc) from None
        if not isinstance(data, dict):
            raise ProtocolError("run request must be a JSON object")
        _check_version(data, "run request")
        data = dict(data)
        data["jobs"] = [JobSpec.from_dict(j) for j in data.get("jobs", [])]
        data["sampling"] = SamplingPlan.from_dict(data.get("sampling", {}))
        return _build(cls, data, "run request")  # type: ignore[no-any-return]


def make_line(kind: str, payload: Dict[str, Any]) -> str:
    """One results-file line. ``kind`` is ``board``, ``job``, ``overhead`` or ``end``."""
    body = {"schema_version": SCHEMA_VERSION, "type": kind}
    body.update(payload)
    return json.dumps(body, sort_keys=True, allow_nan=False, default=str)


def parse_line(line: str) -> Dict[str, Any]:
    """Parse and version-check one results line (raises ProtocolError)."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError("results line is not JSON: %s" % exc) from None
    if not isinstance(data, dict) or "type" not in data:
        raise ProtocolError("results line has no type")
    _check_version(data, "results line")
    if data["type"] == "job":
        res = data.get("result")
        if not isinstance(res, dict) or res.get("status") not in JOB_STATUSES:
            raise ProtocolError("job line has no valid result/status")
    return data
