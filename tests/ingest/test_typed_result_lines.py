"""The agent's result lines as typed records (#14.3): every line type round-trips byte for byte, a missing
required key is named, and keys this side does not know (a newer agent's) are kept, not refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from lab import loadgen

from benchbench.agent import protocol as p

CHANNEL = {"name": "soc_power", "quantity": "power", "unit": "W", "source": "/sys/x", "scope": "rails_sum"}
RESULT: dict[str, Any] = {
    "job_key": "gemm/fp32", "status": "ok", "reason": None, "implementation": "numpy.matmul",
    "timed_window": "one matmul", "setup_s": 0.25, "started_at_unix": 1.7e9, "duration_s": 3,
    "timing": {"number": 10, "warnings": [], "timer": {"resolution_ns": 1.0}, "calibration": [],
               "rounds": [{"t_start_ns": 1, "t_end_ns": 2, "values_s": [0.001, 0.002], "raw_values_s": []}],
               "loop_overhead": {"subtracted": False}},
    "sensors": {"sample_rate_hz": 50.0, "n_samples": 7,
                "unavailable": [{"family": "rapl", "quantity": "energy", "reason": "no powercap"}],
                "channels": [{"channel": CHANNEL, "mean": 4.0, "max": 5.5, "n_in_windows": 3, "span": {}}],
                "series": {"t0_ns": 0, "t_ns": [1, 2], "values": [[4.0, 5.0]]}},
    "memory": {"method": "VmHWM", "peak_rss_bytes": 1000, "peak_rss_timed_bytes": None},
    "energy": [{"channel": "soc_power", "energy_j": 0.5, "mean_power_w": 4.0, "peak_power_w": None,
                "warnings": ["few samples"], "unit_energy": "J"}],
    "extra": {"providers_used": ["CPUExecutionProvider"]}, "env": {"before": {}, "after": {}},
    "throttle": {"throttled": False, "evidence": []}, "preparation": {}, "contention": {"contended": False},
}
SPEC = p.JobSpec(job_key="gemm/fp32", workload="gemm", backend="numpy", precision="fp32", params={"m": 8},
                 timing=p.TimingPlan(rounds=1))
PAYLOADS: dict[str, dict[str, Any]] = {
    "board": {"board": "pi5", "run_id": "r1", "snapshot": {"hostname": "pi", "cpu_count": 4}},
    "overhead": {"overhead": {"overhead_pct": 0.4, "latency_with_sampling_s": None}},
    "job": {"result": RESULT, "spec": SPEC.to_dict()},
    "end": {"status": "complete"},
}
TYPES = {"board": p.BoardLine, "overhead": p.OverheadLine, "job": p.JobLine, "end": p.EndLine}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_every_line_type_round_trips_byte_for_byte(kind: str) -> None:
    raw = p.make_line(kind, PAYLOADS[kind])
    msg = p.parse_line(raw)
    assert isinstance(msg, TYPES[kind])
    assert msg.to_dict() == PAYLOADS[kind] and msg.to_line() == raw
    assert TYPES[kind].from_dict(msg.to_dict()) == msg


def test_typed_fields_of_a_job_line() -> None:
    msg = p.parse_line(p.make_line("job", PAYLOADS["job"]))
    assert isinstance(msg, p.JobLine) and msg.spec == SPEC
    res = msg.result
    assert res.timing is not None and res.timing.values_s == [0.001, 0.002] and res.timing.number == 10
    assert res.sensors is not None and res.sensors.channels[0].channel.scope == "rails_sum"
    assert res.sensors.channels[0].rest == {"span": {}}  # not typed, still written back
    assert res.memory is not None and res.memory.peak_rss_bytes == 1000
    assert res.memory.peak_rss_timed_bytes is None
    assert res.energy[0].warnings == ["few samples"] and res.energy[0].peak_power_w is None
    # an explicit null stays null on the way back; an absent key stays absent
    assert res.memory.to_dict() == RESULT["memory"] and "stderr_tail" not in res.to_dict()


def test_a_record_built_on_the_agent_writes_only_what_it_holds() -> None:
    line = p.JobLine(result=p.JobResult(job_key="k", status="failed", reason="boom"), spec=SPEC)
    assert json.loads(line.to_line())["result"] == {"job_key": "k", "status": "failed", "reason": "boom"}
    assert p.EndLine(status="interrupted").to_dict() == {"status": "interrupted"}


@pytest.mark.parametrize(("kind", "drop", "where"), [
    ("board", ("snapshot",), "board line"),
    ("end", ("status",), "end line"),
    ("job", ("result",), "job line"),
    ("job", ("result", "job_key"), "job line.result"),
    ("job", ("result", "timing", "rounds", 0, "values_s"), "job line.result.timing.rounds[0]"),
    ("job", ("result", "sensors", "channels", 0, "channel", "quantity"),
     "job line.result.sensors.channels[0].channel"),
    ("job", ("result", "energy", 0, "channel"), "job line.result.energy[0]"),
    ("job", ("spec", "workload"), "job"),
])
def test_a_missing_required_key_is_named(kind: str, drop: tuple[Any, ...], where: str) -> None:
    payload = json.loads(json.dumps(PAYLOADS[kind]))
    node = payload
    for step in drop[:-1]:
        node = node[step]
    del node[drop[-1]]
    with pytest.raises(p.ProtocolError, match=re.escape(where) + f".*{drop[-1]}"):
        p.parse_line(p.make_line(kind, payload))


def test_null_where_a_value_is_required_is_refused() -> None:
    with pytest.raises(p.ProtocolError, match="'status'"):
        p.parse_line(p.make_line("job", {"result": dict(RESULT, status=None)}))


def test_unknown_keys_of_a_newer_agent_are_kept() -> None:
    payload = json.loads(json.dumps(PAYLOADS["job"]))
    payload["shard"] = 3
    payload["result"]["gpu_clock_trace"] = [1, 2]
    payload["result"]["timing"]["rounds"][0]["cpu_s"] = 0.5
    payload["result"]["extra"] = None  # null where this side keeps a dict: read as {}, written back as null
    payload["spec"]["affinity"] = [0, 1]  # a spec field this side does not know: dropped, the rest read
    msg = p.parse_line(p.make_line("job", payload))
    assert isinstance(msg, p.JobLine) and msg.rest == {"shard": 3}
    assert msg.result.rest == {"gpu_clock_trace": [1, 2], "extra": None} and msg.result.extra == {}
    assert msg.spec is not None and msg.spec.workload == "gemm"
    back = msg.result.to_dict()
    assert back == payload["result"]
    with pytest.raises(p.ProtocolError, match="affinity"):  # a run request stays strict
        p.JobSpec.from_dict(payload["spec"])


def test_real_agent_lines_are_byte_compatible(tmp_path: Path) -> None:
    """The agent writes through the typed records: every line it wrote reads back and re-serialises to the
    same bytes (the wire format and the stored raw values stay the same)."""
    job = p.JobSpec(job_key="busy", workload="busy", backend="python", precision="fp64", params={"n": 2000},
                    timing=p.TimingPlan(warmup_s=0.01, min_value_s=0.001, rounds=2, values_per_round=3))
    req = p.RunRequest(run_id="r", board="local", jobs=[job],
                       sampling=p.SamplingPlan(interval_s=0.01, families=["memory"], measure_overhead=True))
    loadgen.run_agent(tmp_path, req)
    raw = (tmp_path / "res.jsonl").read_text().splitlines()
    kinds = []
    for line in raw:
        msg = p.parse_line(line)
        assert msg is not None and msg.to_line() == line
        kinds.append(type(msg))
    assert kinds == [p.BoardLine, p.OverheadLine, p.JobLine, p.EndLine]
    job_line = p.parse_line(raw[2])
    assert isinstance(job_line, p.JobLine) and job_line.result.status == "ok"
    assert job_line.result.timing is not None and len(job_line.result.timing.values_s) == 6
    assert job_line.result.sensors is not None and job_line.result.sensors.channels
