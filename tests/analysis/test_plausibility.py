"""Physical plausibility (issue #10 item 4): a counter that jumps beyond the profile's power limit is
flagged implausible with its evidence, its figures keep no value, and no verdict or gate uses them."""

from __future__ import annotations

from typing import Any

import pytest

from benchbench.agent.protocol import JobResult
from benchbench.agent.samplers.base import Channel
from benchbench.agent.samplers.session import SamplingSession, energy_report
from benchbench.analysis.adapt import job_sample
from benchbench.analysis.compare import compare_runs
from benchbench.analysis.gates import parse_gate
from benchbench.config.profiles import load_profile, snapshot_facts
from benchbench.ingest.metrics import job_metrics
from benchbench.results.records import JobRecord

T0 = 1_000_000_000


def _result(jump_j: float, limit_w: float | None = None) -> dict[str, Any]:
    """A Pi 5-like rails counter at 8 W, updated every 100 ms, sampled every 10 ms, with ``jump_j`` added
    in one update mid-window (a glitch: a wrong scale, a reset misread as a wrap)."""
    ch = Channel("pmic_rails_energy", "energy", "J", "test rails counter", scope="rails_sum", limit_w=limit_w)
    s = SamplingSession([], 0.01)
    s.channels, s.values = [ch], [[]]
    for i in range(300):  # 3 s
        t = T0 + i * 10_000_000
        step = i // 10  # 100 ms updates
        s.t_ns.append(t + 3_000_000)
        s.values[0].append(8.0 * step * 0.1 + (jump_j if step >= 15 else 0.0))
    windows = [(T0 + 500_000_000, T0 + 2_500_000_000)]
    rounds = [{"values_s": [0.01] * 20, "t_start_ns": windows[0][0], "t_end_ns": windows[0][1]}]
    return {"job_key": "k", "status": "ok", "timing": {"number": 10, "rounds": rounds},
            "sensors": s.summary(windows) | {"sample_rate_hz": 100.0},
            "energy": energy_report(s, windows, 200)}


def _metrics(result: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    limits = snapshot_facts(load_profile("pi5"), "test")["power_limits"]
    metrics, warnings = job_metrics(JobResult.from_dict(result), {}, "fp32", 0.01,
                                    headline="pmic_rails_energy", power_limits=limits)
    return {m.name: m for m in metrics}, warnings


def test_plausible_counter_is_kept() -> None:
    m, warnings = _metrics(_result(jump_j=0.0))
    assert m["power.mean"].value == pytest.approx(8.0, rel=0.05)
    assert m["energy.per_inference"].value is not None
    assert not [w for w in warnings if w.code == "implausible"]


def test_counter_jump_beyond_the_limit_is_implausible_with_evidence() -> None:
    m, warnings = _metrics(_result(jump_j=60.0))  # +60 J in 2 s: 38 W mean on a 27 W supply
    for name in ("power.mean", "power.peak", "energy.per_inference", "energy.pmic_rails_energy"):
        assert m[name].value is None
        assert m[name].unavailable_reason.startswith("implausible: measured")
        reason = m[name].unavailable_reason
        assert "27 W limit" in reason and "27 W USB-C supply" in reason
    bad = [w for w in warnings if w.code == "implausible"]
    assert bad and bad[0].severity == "error" and "mean power" in bad[0].message


def test_hardware_enforced_limit_wins_and_bounds_the_peak() -> None:
    """A small jump: mean stays under the channel's own 10 W limit, but the derived peak does not."""
    result = _result(jump_j=2.0, limit_w=10.0)
    m, warnings = _metrics(result)
    assert m["power.mean"].value is not None  # (8 W x 2 s + 2 J) / 2 s = 9 W: within 10 W ± its uncertainty
    assert m["power.peak"].value is None and "enforced limit" in m["power.peak"].unavailable_reason
    assert any("peak" in w.message for w in warnings if w.code == "implausible")


def _record(run: str, result: dict[str, Any]) -> JobRecord:
    metrics, warnings = job_metrics(JobResult.from_dict(result), {}, "fp32", headline="pmic_rails_energy",
                                    power_limits=snapshot_facts(load_profile("pi5"), "t")["power_limits"])
    return JobRecord(run_id=run, board="pi5", job_key="k", workload="gemm", backend="ort", precision="fp32",
                     pruning="none", params={}, status="ok", metrics=tuple(metrics), warnings=tuple(warnings),
                     raw={"latency_rounds": result["timing"]["rounds"]})


def test_verdicts_ignore_implausible_figures() -> None:
    a = job_sample(_record("A", _result(0.0)))
    b = job_sample(_record("B", _result(60.0)))
    res = compare_runs([a], [b], [parse_gate("energy_per_inference:+3%")])
    assert not res.tripped
    assert not [r for r in res.rows if r.metric.startswith(("energy", "power"))]
    assert any("could not be evaluated" in w for w in res.warnings)
