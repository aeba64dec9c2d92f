"""A hanging workload: the agent kills the worker at the job's timeout, records `timeout`, and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lab.suites import suite_yaml

from benchbench.results.store import Store

SUITE = suite_yaml("hang", """\
  - workload: busy
    params: {n: 300000000}   # ~10 s per call: far beyond the timeout
    timeout_s: 1.5
  - workload: busy
    params: {n: 1000}
""", max_timed_s=600)


@pytest.mark.slow
def test_hanging_job_times_out_and_the_next_job_runs(tmp_path: Path, bb, bb_env):
    (tmp_path / "hang.yaml").write_text(SUITE)
    res = bb("run", "--suite", "hang.yaml", "--db", "h.db", "--json", "--no-report", env=bb_env, cwd=tmp_path,
             timeout=120)
    assert res.returncode == 1, res.stderr  # a job did not succeed
    outcome = json.loads(res.stdout)
    jobs = {j.params["n"]: j for j in Store(tmp_path / "h.db").load_run(outcome["run_id"]).jobs}
    hung = jobs[300000000]
    assert hung.status == "timeout" and "exceeded its timeout" in hung.reason
    assert hung.value("latency.p50") is None
    assert jobs[1000].status == "ok" and jobs[1000].value("latency.p50") > 0
