"""A duplicate job is refused quietly (resume/reconcile); any other integrity failure is an error, never a
silently dropped measurement."""

import pytest

from benchbench.errors import StoreError
from benchbench.results.records import JobRecord, Metric
from benchbench.results.store import Store


def _job(metrics):
    return JobRecord(run_id="r", board="b", job_key="k", workload="w", backend="numpy", precision="fp32",
                     pruning="none", params={}, status="ok", metrics=tuple(metrics))


def test_duplicate_job_is_false_but_bad_record_raises(tmp_path):
    st = Store(tmp_path / "s.db")
    st.create_run("r", "s", None, None, "0", {}, {})
    assert st.add_job(_job([Metric("latency.p50", 1.0, "s")])) is True
    assert st.add_job(_job([Metric("latency.p50", 2.0, "s")])) is False
    assert st.load_run("r").jobs[0].value("latency.p50") == 1.0
    bad = JobRecord(run_id="r", board="b", job_key="k2", workload="w", backend="numpy", precision="fp32",
                    pruning="none", params={}, status="ok",
                    metrics=(Metric("x", 1.0, "s"), Metric("x", 2.0, "s")))
    with pytest.raises(StoreError, match="cannot store job k2"):
        st.add_job(bad)
    assert [j.job_key for j in st.load_run("r").jobs] == ["k"]
