"""Fair comparisons (issue #9 item 6): two variants of different cost, measured interleaved by the real agent
(one worker process each, rounds round-robin), with a bounded background CPU hog switched on and off on the
same CPU. The paired verdict under load stays within 10 % of the quiet one, or the jobs are marked contended
and no verdict is claimed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lab import loadgen

from benchbench.agent.protocol import JobLine, JobSpec, RunRequest, SamplingPlan, TimingPlan
from benchbench.analysis.paired import paired_verdict
from benchbench.ingest import job_record
from benchbench.results.records import JobRecord

PLAN = TimingPlan(warmup_s=0.05, min_value_s=0.005, rounds=8, values_per_round=5, max_timed_s=3.0)


def _jobs(group: str | None) -> list[JobSpec]:
    # the same kernel at two costs: "fp32" does twice the work of "fp16" (a known 2x speed-up)
    return [JobSpec(job_key=f"busy/{p}", workload="busy", backend="python", precision=p, params={"n": n},
                    timing=PLAN, group=group) for p, n in (("fp32", 40000), ("fp16", 20000))]


def _records(lines: list[dict[str, Any]]) -> list[JobRecord]:
    return [job_record("r", "local", JobLine.from_dict(line), None) for line in lines]


def _cpu() -> int:
    return max(os.sched_getaffinity(0))


def test_pairs_are_round_robin_in_separate_workers(tmp_path: Path) -> None:
    req = RunRequest(run_id="r", board="local", jobs=_jobs("busy"),
                     sampling=SamplingPlan(families=[], measure_overhead=False))
    a, b = (line["result"] for line in loadgen.run_agent(tmp_path, req))
    assert a["interleave"]["partners"] == [b["job_key"]] and b["interleave"]["partners"] == [a["job_key"]]
    ra, rb = a["timing"]["rounds"], b["timing"]["rounds"]
    assert len(ra) == len(rb) == 8
    for i in range(8):  # round i of A, then round i of B, then round i+1 of A
        assert ra[i]["t_end_ns"] <= rb[i]["t_start_ns"]
        if i + 1 < 8:
            assert rb[i]["t_end_ns"] <= ra[i + 1]["t_start_ns"]
    for res in (a, b):
        c = res["contention"]
        assert isinstance(c["contended"], bool) and len(c["rounds"]) == 8
        assert 0 < c["cpu_over_wall"] <= 1.2 and "wait_fraction_max" in c


@pytest.mark.slow
def test_verdict_under_intermittent_load_holds_or_is_not_claimed(tmp_path: Path) -> None:
    cpu = _cpu()
    req = RunRequest(run_id="r", board="local", jobs=_jobs("busy"),
                     sampling=SamplingPlan(families=[], measure_overhead=False))
    quiet = paired_verdict(*_records(loadgen.run_agent(tmp_path / "quiet", req, cpu)))
    assert quiet.ratio == pytest.approx(2.0, rel=0.35)  # the known work ratio (CPython loop costs vary)
    hog = loadgen.start_hog(cpu, 30.0, on_s=0.15, off_s=0.15)
    try:
        loaded_recs = _records(loadgen.run_agent(tmp_path / "loaded", req, cpu))
    finally:
        hog.kill()
        hog.wait()
    loaded = paired_verdict(*loaded_recs)
    assert loaded.ratio is not None and quiet.ratio is not None
    if any(r.details["contention"]["contended"] for r in loaded_recs):
        assert loaded.verdict.startswith("not claimed: contended")
        assert all(r.details["contention"]["evidence"] for r in loaded_recs
                   if r.details["contention"]["contended"])
    else:
        assert loaded.ratio == pytest.approx(quiet.ratio, rel=0.10)
    # a sequential pair of the same jobs never claims
    seq = paired_verdict(*_records(loadgen.run_agent(tmp_path / "seq", RunRequest(
        run_id="r", board="local", jobs=_jobs(None), sampling=SamplingPlan(families=[],
                                                                           measure_overhead=False)))))
    assert seq.verdict == "not claimed: not interleaved"
