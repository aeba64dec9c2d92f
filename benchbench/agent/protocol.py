"""Versioned JSON protocol between the host controller and the on-board agent.

The host writes a :class:`RunRequest` as JSON; the agent appends one JSON object per line to a results
file (and echoes each line on stdout): a ``board`` line with the board snapshot, one ``job`` line per
finished job, and an ``end`` line. Those lines are typed records (:class:`BoardLine`, :class:`OverheadLine`,
:class:`JobLine` with its :class:`JobResult`, :class:`EndLine`) that the agent writes through ``to_dict``
and :func:`parse_line` builds back; keys a newer agent adds are kept, so old and new sides read each other.
``schema_version`` is checked on both sides so version skew fails loudly instead of by luck. This module
is stdlib-only and Python 3.8 compatible.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Dict, FrozenSet, List, Optional, Type, Union

from .records import Nested, Record
from .records import ProtocolError as ProtocolError  # noqa: PLC0414 - re-exported: the host imports only protocol

SCHEMA_VERSION = 1
AGENT_VERSION = "0.1.0"

#: sensor families an agent of this protocol version can probe (board options follow an ``@``)
SAMPLER_FAMILIES = ("cpufreq", "thermal", "memory", "rapl", "hwmon", "jetson", "tegrastats", "rpi", "rk3588",
                    "ascend", "nvml", "ptdaemon")
#: what a board without a device profile is sampled with (host: ``families_for``; the agent's defaults)
DEFAULT_FAMILIES = ("cpufreq", "thermal", "memory", "rapl", "hwmon")
#: the backends this agent runs (a job's ``backend``) → their module under ``agent/backends`` (lazy import).
#: The one list: suites are validated against it on the controller. A new runtime adds one line here.
BACKEND_MODULES = {
    "python": ".python_kernels",
    "numpy": ".numpy_kernels",
    "onnxruntime": ".ort",
    "onnxruntime-llm": ".ort_llm",
    "rknn": ".rknn",
    "litert": ".litert",
    "pytest-benchmark": ".pytest_bench",
    "torch": ".torch_backend",
    "llama.cpp": ".llamacpp",
}
#: where a power/energy number comes from: "total power" means something different on each board
POWER_SCOPES = ("wall", "board_input", "module_input", "rails_sum", "accelerator", "cpu_package",
                "gpu_board", "rail")

JOB_STATUSES = ("ok", "failed", "timeout", "unsupported", "skipped", "interrupted")
RUN_END_STATUSES = ("complete", "interrupted", "error")


def _check_version(data: Dict[str, Any], what: str) -> None:
    got = data.get("schema_version")
    if got != SCHEMA_VERSION:
        raise ProtocolError(
            f"{what} has schema_version {got!r}, this side speaks {SCHEMA_VERSION}")


def _build(cls: Any, data: Dict[str, Any], what: str, strict: bool = True) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown and strict:
        raise ProtocolError(f"{what}: unknown field(s) {', '.join(sorted(unknown))}")
    data = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**data)
    except TypeError as exc:  # missing required fields
        raise ProtocolError(f"{what}: {exc}") from None


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
    def from_dict(cls, data: Dict[str, Any], strict: bool = True) -> TimingPlan:
        return _build(cls, data, "timing", strict)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SamplingPlan:
    """Which sensor families to probe and how often to read them."""

    interval_s: float = 0.02
    families: List[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))
    root: str = "/"
    #: measure the latency of a reference kernel with and without sampling at run start
    measure_overhead: bool = True

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> SamplingPlan:
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
    def from_dict(cls, data: Dict[str, Any], strict: bool = True) -> JobSpec:
        """``strict=False`` (a spec echoed in a job line) drops fields a newer agent added."""
        if not isinstance(data, dict):
            raise ProtocolError("job spec must be a JSON object")
        data = dict(data)
        data["timing"] = TimingPlan.from_dict(data.get("timing", {}), strict)
        return _build(cls, data, "job", strict)  # type: ignore[no-any-return]


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
    def from_json(cls, text: str) -> RunRequest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"run request is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ProtocolError("run request must be a JSON object")
        _check_version(data, "run request")
        data = dict(data)
        data["jobs"] = [JobSpec.from_dict(j) for j in data.get("jobs", [])]
        data["sampling"] = SamplingPlan.from_dict(data.get("sampling", {}))
        return _build(cls, data, "run request")  # type: ignore[no-any-return]


# -- results lines: typed views of what the agent writes (see ``records``) --------------------------------


@dataclass(frozen=True)
class TimedRound(Record):
    REQUIRED = ("values_s",)
    values_s: List[float]
    t_start_ns: Optional[int] = None
    t_end_ns: Optional[int] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class JobTiming(Record):
    """The timing engine's (or a self-timed backend's) ``TimingResult``."""

    NESTED: ClassVar[Nested] = {"rounds": [TimedRound.from_dict]}
    number: Optional[int] = None  # calls per timed value
    rounds: List[TimedRound] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    timer: Optional[Dict[str, Any]] = None
    calibration: Optional[List[Dict[str, Any]]] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def values_s(self) -> List[float]:
        return [v for r in self.rounds for v in r.values_s]


@dataclass(frozen=True)
class SensorChannel(Record):
    """A sampler channel as probed (``samplers.base.Channel``)."""

    REQUIRED = ("name", "quantity", "source")
    name: str
    quantity: str
    source: str
    scope: Optional[str] = None
    label: Optional[str] = None
    limit_w: Optional[float] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class ChannelSummary(Record):
    """One channel's statistics over the timed windows."""

    REQUIRED = ("channel",)
    NESTED: ClassVar[Nested] = {"channel": SensorChannel.from_dict}
    channel: SensorChannel
    mean: Optional[float] = None
    max: Optional[float] = None
    energy_j: Optional[float] = None
    mean_power_w: Optional[float] = None
    method: Optional[str] = None
    n_in_windows: int = 0
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class SensorSummary(Record):
    NESTED: ClassVar[Nested] = {"channels": [ChannelSummary.from_dict]}
    sample_rate_hz: Optional[float] = None
    channels: List[ChannelSummary] = field(default_factory=list)
    #: families/quantities that could not be probed: family, quantity, reason (and scope)
    unavailable: List[Dict[str, Any]] = field(default_factory=list)
    #: raw samples over the job's span: t0_ns, t_ns, values (one list per channel)
    series: Optional[Dict[str, Any]] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class EnergyReport(Record):
    """Energy of one power/energy channel over the timed windows or the steady-state energy phase."""

    REQUIRED = ("channel",)
    channel: str
    energy_j: Optional[float] = None
    mean_power_w: Optional[float] = None
    peak_power_w: Optional[float] = None
    peak_method: Optional[str] = None
    method: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    #: set for the steady-state energy phase, whose call count is ``inferences``
    window: Optional[str] = None
    inferences: Optional[int] = None
    energy_per_inference_j: Optional[float] = None
    energy_per_inference_above_idle_j: Optional[float] = None
    energy_uncertainty_j: Optional[float] = None
    timed_s: Optional[float] = None
    limit_w: Optional[float] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class MemoryReport(Record):
    method: Optional[str] = None
    peak_rss_bytes: Optional[int] = None
    peak_rss_timed_bytes: Optional[int] = None
    rss_after_setup_bytes: Optional[int] = None
    sys_available_before_bytes: Optional[int] = None
    sys_available_after_bytes: Optional[int] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class JobResult(Record):
    """What one job measured (or why it did not)."""

    REQUIRED = ("job_key", "status")
    NESTED: ClassVar[Nested] = {"timing": JobTiming.from_dict, "sensors": SensorSummary.from_dict,
              "memory": MemoryReport.from_dict, "energy": [EnergyReport.from_dict]}
    job_key: str
    status: str
    reason: Optional[str] = None
    stderr_tail: Optional[str] = None
    implementation: Optional[str] = None
    timed_window: Optional[str] = None
    started_at_unix: Optional[float] = None
    duration_s: Optional[float] = None
    setup_s: Optional[float] = None
    timing: Optional[JobTiming] = None
    sensors: Optional[SensorSummary] = None
    memory: Optional[MemoryReport] = None
    energy: List[EnergyReport] = field(default_factory=list)
    #: backend-specific facts (providers, LLM figures…), kept as the backend wrote them
    extra: Dict[str, Any] = field(default_factory=dict)
    env: Dict[str, Any] = field(default_factory=dict)
    throttle: Optional[Dict[str, Any]] = None
    preparation: Dict[str, Any] = field(default_factory=dict)
    contention: Optional[Dict[str, Any]] = None
    interleave: Optional[Dict[str, Any]] = None
    energy_phase: Optional[Dict[str, Any]] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in JOB_STATUSES:
            raise ProtocolError(f"job result {self.job_key!r} has status {self.status!r}, "
                                f"not one of {', '.join(JOB_STATUSES)}")


class _Line(Record):
    TYPE: ClassVar[str] = ""

    def to_line(self) -> str:
        return make_line(self.TYPE, self.to_dict())


@dataclass(frozen=True)
class BoardLine(_Line):
    TYPE = "board"
    REQUIRED = ("board", "run_id", "snapshot")
    board: str
    run_id: str
    #: the board snapshot (envinfo): free-form facts the report shows as they are
    snapshot: Dict[str, Any]
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class OverheadLine(_Line):
    TYPE = "overhead"
    REQUIRED = ("overhead",)
    #: latency with and without sampling (``runner.Agent.measure_overhead``), stored with the board
    overhead: Dict[str, Any]
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


def _spec(data: Any, what: str) -> JobSpec:
    try:
        return JobSpec.from_dict(data, strict=False)
    except ProtocolError as exc:  # say where: "job line.spec: job: missing ..."
        raise ProtocolError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class JobLine(_Line):
    TYPE = "job"
    REQUIRED = ("result",)
    NESTED: ClassVar[Nested] = {"result": JobResult.from_dict, "spec": _spec}
    result: JobResult
    spec: Optional[JobSpec] = None
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class EndLine(_Line):
    TYPE = "end"
    REQUIRED = ("status",)
    status: str  # one of RUN_END_STATUSES
    rest: Dict[str, Any] = field(default_factory=dict)
    seen: FrozenSet[str] = field(default=frozenset(), compare=False, repr=False)


ResultLine = Union[BoardLine, OverheadLine, JobLine, EndLine]
LINE_TYPES: Dict[str, Type[_Line]] = {c.TYPE: c for c in (BoardLine, OverheadLine, JobLine, EndLine)}


def make_line(kind: str, payload: Dict[str, Any]) -> str:
    """One results-file line. ``kind`` is ``board``, ``job``, ``overhead`` or ``end``."""
    body = {"schema_version": SCHEMA_VERSION, "type": kind}
    body.update(payload)
    return json.dumps(body, sort_keys=True, allow_nan=False, default=str)


def parse_line(line: str) -> Optional[ResultLine]:
    """Parse and version-check one results line (raises ProtocolError); None for a kind of line this side
    does not know (a newer agent's), which a reader skips."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"results line is not JSON: {exc}") from None
    if not isinstance(data, dict) or "type" not in data:
        raise ProtocolError("results line has no type")
    _check_version(data, "results line")
    cls = LINE_TYPES.get(data["type"])
    if cls is None:
        return None
    body = {k: v for k, v in data.items() if k not in ("type", "schema_version")}
    return cls.from_dict(body, f"{data['type']} line")  # type: ignore[return-value]
