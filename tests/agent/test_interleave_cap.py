"""A cap on live worker processes per interleaved group (memory on small boards): a group larger than
``TimingPlan.max_live_workers`` runs in chunks, each with the group's reference (dense fp32), whose one
long-lived worker measures a set of rounds per chunk; paired verdicts pair each variant with the reference
rounds of its own chunk. Real agent (subprocess), the live workers counted from /proc while it runs."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchbench.agent.interleave import chunk_plan
from benchbench.agent.protocol import JobLine, JobSpec, RunRequest, SamplingPlan, TimingPlan
from benchbench.analysis.paired import paired_verdict
from benchbench.ingest import job_record

ROUNDS = 4
PLAN = TimingPlan(warmup_s=0.02, min_value_s=0.003, rounds=ROUNDS, values_per_round=3, max_timed_s=2.0,
                  max_live_workers=2)


def _spec(precision: str, pruning: str, n: int = 1000) -> JobSpec:
    return JobSpec(job_key=f"busy/{precision}/{pruning}", workload="busy", backend="python",
                   precision=precision, pruning=pruning, params={"n": n}, timing=PLAN, group="busy")


def test_chunks_start_with_the_reference_and_keep_pruning_levels_together() -> None:
    precisions, prunings = ("fp16", "fp32", "int8"), ("none", "u25", "u50", "u75", "s25", "s50", "s75")
    jobs = [_spec(p, q) for p in precisions for q in prunings]  # 21 variants, precision-major
    ref = jobs.index(_spec("fp32", "none"))
    for cap in (2, 3, 4, 8, 21, 40):
        plan = chunk_plan(jobs, cap)
        assert all(len(c) <= cap for c in plan)
        anchors = set.intersection(*(set(c) for c in plan)) if len(plan) > 1 else set()
        others = [i for c in plan for i in c if i not in anchors]
        assert sorted(others + list(anchors)) == list(range(21))  # every variant measured, once
        if cap >= 21:
            assert plan == [list(range(21))]
            continue
        assert all(c[0] == ref for c in plan)
        if cap - 1 >= 3:  # a level of three fits a chunk: "vs fp32 at the same pruning" stays paired
            for q in prunings[1:]:
                level = {i for i, j in enumerate(jobs) if j.pruning == q}
                assert sum(1 for c in plan if level & set(c)) == 1, (cap, q, plan)
    # cap 8: the three dense variants fit beside a level of three, so they anchor every chunk
    dense = {i for i, j in enumerate(jobs) if j.pruning == "none"}
    assert len(chunk_plan(jobs, 8)) == 6 and all(dense <= set(c) and len(c) == 6 for c in chunk_plan(jobs, 8))
    assert set.intersection(*(set(c) for c in chunk_plan(jobs, 5))) == {ref}  # 3 + 3 > 5: the reference alone
    assert chunk_plan([_spec("fp16", "none"), _spec("int8", "none"), _spec("int4", "none")], 2) == [[0, 1],
                                                                                                    [0, 2]]


def _workers_alive(art: Path) -> int:
    """Worker processes of this agent run (their command line names our artifacts dir)."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            n += b"worker" in cmd and str(art).encode() in cmd
    return n


def _run(tmp: Path, req: RunRequest) -> tuple[list[dict[str, Any]], int]:
    (tmp / "req.json").write_text(req.to_json())
    art = tmp / "art"
    art.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "benchbench.agent", "run", "--request",
                             str(tmp / "req.json"),
                             "--results", str(tmp / "res.jsonl"), "--artifacts", str(art), "--quiet"])
    most = 0
    while proc.poll() is None:
        most = max(most, _workers_alive(art))
        time.sleep(0.01)
    assert proc.returncode == 0
    lines = [json.loads(x) for x in (tmp / "res.jsonl").read_text().splitlines()]
    return [x for x in lines if x["type"] == "job"], most


def test_cap_two_with_four_variants_pairs_each_with_the_reference_of_its_chunk(tmp_path: Path) -> None:
    # the reference (dense fp32) is not first; it does 2-4x the work of the others
    jobs = [_spec("fp16", "none", 20000), _spec("fp32", "none", 40000), _spec("fp32", "s50", 20000),
            _spec("fp16", "s50", 10000)]
    req = RunRequest(run_id="r", board="local", jobs=jobs, sampling=SamplingPlan(families=[],
                                                                                   measure_overhead=False))
    lines, most = _run(tmp_path, req)
    assert most == 2, most  # never more than the cap (and the reference really kept alongside a variant)
    res = {line["result"]["job_key"]: line["result"] for line in lines}
    assert [line["result"]["job_key"] for line in lines] == [j.job_key for j in jobs]  # stored in job order
    assert all(r["status"] == "ok" for r in res.values()), res
    ref = res["busy/fp32/none"]
    info = ref["interleave"]
    assert info["reference"] and info["chunks"] == 3 and info["max_live_workers"] == 2
    assert [c["partners"] for c in info["chunk_rounds"]] == [["busy/fp16/none"], ["busy/fp32/s50"],
                                                             ["busy/fp16/s50"]]
    assert len(ref["timing"]["rounds"]) == 3 * ROUNDS and info["rounds"] == 3 * ROUNDS
    assert sorted(info["partners"]) == sorted(k for k in res if k != "busy/fp32/none")
    records = {k: job_record("r", "local", JobLine.from_dict(line), None) for k, line in zip(res, lines)}
    for chunk in info["chunk_rounds"]:
        (key,) = chunk["partners"]
        var = res[key]
        assert var["interleave"]["partners"] == ["busy/fp32/none"]
        assert (var["interleave"]["chunk"], var["interleave"]["max_live_workers"]) == (chunk["chunk"], 2)
        mine = ref["timing"]["rounds"][chunk["first_round"]:chunk["first_round"] + chunk["rounds"]]
        theirs = var["timing"]["rounds"]
        assert len(mine) == len(theirs) == ROUNDS
        for i in range(ROUNDS):  # round-robin inside the chunk: reference round i, variant round i, ...
            assert mine[i]["t_end_ns"] <= theirs[i]["t_start_ns"]
            if i + 1 < ROUNDS:
                assert theirs[i]["t_end_ns"] <= mine[i + 1]["t_start_ns"]
        # the verdict pairs the variant with the reference rounds of its own chunk, round for round
        pv = paired_verdict(records["busy/fp32/none"], records[key])
        want = [statistics.median(a["values_s"]) / statistics.median(b["values_s"])
                for a, b in zip(mine, theirs)]
        assert list(pv.ratios) == want
        assert pv.ratio is not None and pv.ratio > 1  # the reference does 2-4x the work
    # variants of different chunks were never measured together: no claim between them
    assert paired_verdict(records["busy/fp16/none"], records["busy/fp16/s50"]).verdict == \
        "not claimed: not interleaved"


def test_dense_variants_anchor_every_chunk_when_they_fit(tmp_path: Path) -> None:
    """cap 4, fp32/fp16 x none/s25/s50: both dense jobs live through both chunks, so every variant is paired
    with its fp32 (same pruning) and its dense (same precision) baseline, and the two dense ones with each
    other, each time on rounds of one chunk."""
    plan = dataclasses.replace(PLAN, max_live_workers=4)
    jobs = [dataclasses.replace(_spec(p, q, n), timing=plan) for p, n in (("fp32", 30000), ("fp16", 15000))
            for q in ("none", "s25", "s50")]
    req = RunRequest(run_id="r", board="local", jobs=jobs, sampling=SamplingPlan(families=[],
                                                                                   measure_overhead=False))
    lines, most = _run(tmp_path, req)
    assert most == 4, most
    res = {line["result"]["job_key"]: line["result"] for line in lines}
    assert all(r["status"] == "ok" for r in res.values()), res
    rec = {k: job_record("r", "local", JobLine.from_dict(line), None) for k, line in zip(res, lines)}
    for key in ("busy/fp32/none", "busy/fp16/none"):
        info = res[key]["interleave"]
        assert info["anchor"] and info["chunks"] == 2 and len(res[key]["timing"]["rounds"]) == 2 * ROUNDS
    assert res["busy/fp32/none"]["interleave"]["reference"]
    assert not res["busy/fp16/none"]["interleave"]["reference"]
    assert res["busy/fp16/s50"]["interleave"]["chunk"] == 1
    pairs = [("busy/fp32/none", "busy/fp16/none"), ("busy/fp32/s25", "busy/fp16/s25"),
             ("busy/fp32/s50", "busy/fp16/s50"), ("busy/fp16/none", "busy/fp16/s50"),
             ("busy/fp32/none", "busy/fp32/s25")]
    for base, var in pairs:
        pv = paired_verdict(rec[base], rec[var])
        assert not pv.verdict.startswith("not claimed: not") and len(pv.ratios) == ROUNDS, (base, var, pv)
    # fp16/none vs fp16/s50: the anchor's rounds of chunk 1, round for round
    anchor, var = res["busy/fp16/none"], res["busy/fp16/s50"]
    (c1,) = [c for c in anchor["interleave"]["chunk_rounds"] if c["chunk"] == 1]
    mine = anchor["timing"]["rounds"][c1["first_round"]:c1["first_round"] + c1["rounds"]]
    want = [statistics.median(a["values_s"]) / statistics.median(b["values_s"])
            for a, b in zip(mine, var["timing"]["rounds"])]
    assert list(paired_verdict(rec["busy/fp16/none"], rec["busy/fp16/s50"]).ratios) == want
    assert paired_verdict(rec["busy/fp16/s25"],
                          rec["busy/fp16/s50"]).verdict == "not claimed: not interleaved"
