"""Findings: a verdict is printed only where the stored data supports it (paired interleaved rounds, energy ±
intervals apart); contended pairs, overlapping intervals and too few rounds claim nothing, and say why."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from lab.matrixjobs import interleaved, job

from benchbench.analysis.findings import run_findings, variant_findings
from benchbench.report.render import render_run
from benchbench.results.records import JobRecord, RunData
from benchbench.results.store import Store


def _with_pm(j: JobRecord, pm_j: float, calls: int = 1000) -> JobRecord:
    """The agent's energy report for the job's per-inference energy, with a ± over the window."""
    e = j.value("energy.per_inference") or 0.0
    rep = {"channel": "pmic", "energy_j": e * calls, "inferences": calls,
           "energy_uncertainty_j": pm_j * calls}
    return replace(j, details={**j.details, "energy": [rep]})


def _pair(var_s: float, var_e: float, **kw: object) -> list[JobRecord]:
    return interleaved([job("pi5", "fp32", "none", 0.010, energy_j=0.05),
                        job("pi5", "int8", "none", var_s, cos=0.99, energy_j=var_e)], **kw)  # type: ignore[arg-type]


def _store(tmp_path: Path, jobs: list[JobRecord]) -> RunData:
    store = Store(tmp_path / "f.db")
    store.create_run("r", "study", None, None, "0", {"hostname": "ci"}, {})
    store.record_board("r", "pi5", {"hostname": "pi5", "sensors": [
        {"family": "hwmon", "quantity": "power", "scope": "board_input", "available": False,
         "reason": "no INA2xx on this board"}]})
    for j in jobs:
        store.add_job(j)
    store.finish_run("r", "complete")
    return store.load_run("r")


def test_supported_verdicts_are_stated() -> None:
    (f,) = variant_findings(_pair(0.004, 0.02))
    assert f.variant == "int8" and f.reference == "fp32"
    assert f.claims[0].startswith("2.50× faster")
    assert f.claims[1].startswith("60% less energy per inference (20 mJ vs 50 mJ, no ± recorded")
    assert "worst-output SQNR 20.0 dB" in f.claims
    assert any(n.startswith("peak memory: no claim") for n in f.no_claims)  # same RSS


def test_no_verdict_when_contended_overlapping_or_too_few_rounds() -> None:
    (contended,) = variant_findings(_pair(0.004, 0.02, contended=("resnet18/int8/none",)))
    assert not contended.claimed
    assert "contended" in " ".join(contended.no_claims) and not any("faster" in c for c in contended.claims)
    (few,) = variant_findings(_pair(0.004, 0.02, rounds=2))
    assert not few.claimed and "only 2 paired rounds" in " ".join(few.no_claims)
    base, var = _pair(0.004, 0.045)
    (overlap,) = variant_findings([_with_pm(base, 0.004), _with_pm(var, 0.004)])  # 45 ± 4 vs 50 ± 4 mJ
    assert overlap.claims[0].startswith("2.50× faster")
    assert not any("energy" in c for c in overlap.claims)
    assert any(n.startswith("energy: no claim (the ± intervals overlap") for n in overlap.no_claims)
    (apart,) = variant_findings([_with_pm(base, 0.001), _with_pm(var, 0.001)])
    assert any("10% less energy per inference (45 mJ ± 1 mJ vs 50 mJ ± 1 mJ" in c for c in apart.claims)


def test_report_prints_no_unsupported_finding(tmp_path: Path) -> None:
    jobs = (_pair(0.004, 0.02)
            + [replace(j, board="rk3588", job_key=j.job_key) for j in
               _pair(0.004, 0.02, contended=("resnet18/int8/none",))]
            + [replace(job("pi5", "int4", "none", 0.003), status="unsupported",
                       reason="no int4 kernel on this EP")])
    run = _store(tmp_path, jobs)
    rf = run_findings(run.jobs, run.boards)
    assert [u.kind for u in rf.unmeasured] == ["sensor", "not applicable"]
    html = render_run(run)
    top = html[html.index('<section id="findings">'):html.index('<section id="summary">')]
    assert "<table" not in html[:html.index('<section id="findings">')]  # the answer comes before any table
    assert top.count("× faster") == 1 and "<b>pi5</b>" in top and "<b>rk3588</b>" not in top
    assert "not claimed: contended (variant)" in top  # said as no verdict, with the reason
    assert "no int4 kernel on this EP" in top and "no INA2xx on this board" in top
    for anchor in set(re.findall(r'href="#([^"]+)"', top)):
        assert f'id="{anchor}"' in html, anchor  # every evidence link lands on something
