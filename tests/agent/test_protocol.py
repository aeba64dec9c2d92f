"""Agent protocol: round trip, version checks, strict fields."""

import json

import pytest

from benchbench.agent.protocol import (
    SCHEMA_VERSION,
    JobSpec,
    ProtocolError,
    RunRequest,
    SamplingPlan,
    TimingPlan,
    make_line,
    parse_line,
)


def _request() -> RunRequest:
    job = JobSpec(job_key="gemm|numpy|fp32|none|{}", workload="gemm", backend="numpy", precision="fp32",
                  params={"m": 8, "k": 8, "n": 8}, timing=TimingPlan(rounds=2), timeout_s=30)
    return RunRequest(run_id="r1", board="b<1>", jobs=[job], sampling=SamplingPlan(interval_s=0.05))


def test_request_round_trip():
    req = _request()
    back = RunRequest.from_json(req.to_json())
    assert back == req
    assert back.jobs[0].timing.rounds == 2


def test_request_version_skew_is_refused():
    data = json.loads(_request().to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ProtocolError, match="schema_version"):
        RunRequest.from_json(json.dumps(data))


def test_unknown_field_is_refused():
    data = json.loads(_request().to_json())
    data["jobs"][0]["surprise"] = 1
    with pytest.raises(ProtocolError, match="surprise"):
        RunRequest.from_json(json.dumps(data))


def test_result_lines_round_trip_and_check():
    line = make_line("job", {"result": {"job_key": "k", "status": "ok"}})
    assert parse_line(line).result.status == "ok"
    with pytest.raises(ProtocolError, match="great"):
        parse_line(make_line("job", {"result": {"job_key": "k", "status": "great"}}))
    old = json.loads(line)
    old["schema_version"] = 0
    with pytest.raises(ProtocolError, match="schema_version"):
        parse_line(json.dumps(old))
    with pytest.raises(ProtocolError):
        parse_line("not json")
    assert parse_line(make_line("gossip", {"x": 1})) is None  # a newer agent's kind of line: skipped


def test_a_bad_spec_in_a_job_line_is_named():
    result = {"job_key": "k", "status": "ok"}
    with pytest.raises(ProtocolError, match=r"^job line\.spec: job spec must be a JSON object"):
        parse_line(make_line("job", {"result": result, "spec": [1]}))
    with pytest.raises(ProtocolError, match=r"^job line\.spec: job: .*workload"):
        parse_line(make_line("job", {"result": result, "spec": {"job_key": "k"}}))
