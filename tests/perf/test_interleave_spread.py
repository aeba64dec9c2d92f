"""Fair comparisons under intermittent load (issue #9 item 6): the spread of a two-cost ratio over 10 runs,
variants measured interleaved (round-robin rounds, one worker each, median of the paired per-round ratios)
vs sequential (one job after the other, ratio of the medians), with a background CPU hog that switches on and
off at random (0.2–0.6 s phases) on the same CPU as the agent. The true ratio is the work ratio (2x; CPython
loop costs make it ~1.9–2.0). Writes perf-results/interleave_spread.json with every ratio, the spread
((max − min) / median), the sd of the log-ratios, how many runs were marked contended and how many claimed.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import loadgen

from benchbench.agent.protocol import JobLine, JobSpec, RunRequest, SamplingPlan, TimingPlan
from benchbench.analysis.paired import paired_verdict
from benchbench.ingest import job_record

pytestmark = pytest.mark.perf
OUT = Path(os.environ.get("BENCHBENCH_PERF_OUT", "perf-results")) / "interleave_spread.json"
RUNS = int(os.environ.get("BENCHBENCH_SPREAD_RUNS", "10"))
PLAN = TimingPlan(warmup_s=0.05, min_value_s=0.005, rounds=8, values_per_round=5, max_timed_s=3.0)


def _req(group: str | None) -> RunRequest:
    jobs = [JobSpec(job_key=f"busy/{p}", workload="busy", backend="python", precision=p, params={"n": n},
                    timing=PLAN, group=group) for p, n in (("fp32", 40000), ("fp16", 20000))]
    return RunRequest(run_id="r", board="local", jobs=jobs,
                      sampling=SamplingPlan(families=[], measure_overhead=False))


def _summary(ratios: list[float]) -> dict[str, float]:
    med = statistics.median(ratios)
    logs = [math.log(r) for r in ratios]
    return {"median": med, "min": min(ratios), "max": max(ratios),
            "spread": (max(ratios) - min(ratios)) / med,
            "sd_log": statistics.stdev(logs) if len(logs) > 1 else 0.0}


def test_ratio_spread_interleaved_vs_sequential(tmp_path: Path) -> None:
    cpu = max(os.sched_getaffinity(0))
    out: dict[str, Any] = {"runs": RUNS, "true_work_ratio": 2.0,
                           "load": "hog on/off 0.2–0.6 s phases, same CPU"}
    for mode, group in (("interleaved", "busy"), ("sequential", None)):
        ratios, contended, claimed = [], 0, 0
        for i in range(RUNS):
            hog = loadgen.start_hog(cpu, 60.0, on_s=0.4, off_s=0.4, seed=i)
            try:
                lines = loadgen.run_agent(tmp_path / f"{mode}-{i}", _req(group), cpu)
            finally:
                hog.kill()
                hog.wait()
            recs = [job_record("r", "local", JobLine.from_dict(line), None) for line in lines]
            pv = paired_verdict(*recs)
            assert pv.ratio is not None
            ratios.append(pv.ratio)
            contended += any(r.details.get("contention", {}).get("contended") for r in recs)
            claimed += pv.claimed
        out[mode] = {"ratios": ratios, "contended_runs": contended, "claimed_runs": claimed,
                     **_summary(ratios)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    assert out["sequential"]["claimed_runs"] == 0  # never a verdict from jobs that were not interleaved
