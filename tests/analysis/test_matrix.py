"""The device × precision × pruning matrix, the Pareto front and roofline positions, on known numbers."""

from __future__ import annotations

import math

import pytest
from lab.matrixjobs import JOBS, job

from benchbench.analysis.matrix import (
    Peaks,
    build_matrix,
    pareto_front,
    pareto_groups,
    peak_key,
    roofline_points,
)
from benchbench.results.records import JobRecord


def test_speedups_vs_fp32_and_vs_unpruned() -> None:
    rows = {(r.board, r.precision, r.pruning): r for r in build_matrix(JOBS)}
    assert len(rows) == 6
    fp32 = rows[("pi5", "fp32", "none")]
    assert fp32.speedup_vs_fp32 is None and fp32.speedup_vs_dense is None and fp32.fidelity == math.inf
    assert rows[("pi5", "int8", "none")].speedup_vs_fp32 == pytest.approx(2.5)
    assert rows[("pi5", "int8", "none")].speedup_vs_dense is None
    assert rows[("pi5", "fp32", "50pct")].speedup_vs_dense == pytest.approx(1.25)
    assert rows[("pi5", "int8", "50pct")].speedup_vs_fp32 == pytest.approx(4.0)  # vs fp32 at 50pct
    assert rows[("pi5", "int8", "50pct")].speedup_vs_dense == pytest.approx(2.0)  # vs int8 unpruned
    assert rows[("rk3588", "int8", "none")].speedup_vs_fp32 is None
    r = rows[("pi5", "int8", "none")]
    assert (r.p99_s, r.items_per_s, r.energy_j, r.mem_peak_bytes, r.size_bytes) == \
        (pytest.approx(0.0048), pytest.approx(250.0), 0.02, 100e6, 10e6)


def test_failed_jobs_are_left_out() -> None:
    failed = JobRecord(run_id="r", board="pi5", job_key="x", workload="resnet18", backend="onnxruntime",
                       precision="int4", pruning="none", params={}, status="unsupported")
    assert len(build_matrix([*JOBS, failed])) == 6


def test_pareto_front_on_known_points() -> None:
    # (latency, fidelity): lower latency and higher fidelity are better
    front = pareto_front([(10, 1.0), (4, 0.99), (8, 0.995), (2, 0.98), (9, 0.99)])
    assert front == [True, True, True, True, False]
    assert pareto_front([(1, 0.9), (1, 0.9)]) == [True, True]  # equal points: both optimal
    assert pareto_front([(1, 0.9), (1, 0.95)]) == [False, True]  # same speed, better fidelity dominates
    assert pareto_front([(2, 0.9), (1, 0.9)]) == [False, True]
    assert pareto_front([]) == []


def test_pareto_groups_per_board_and_model() -> None:
    groups = pareto_groups(build_matrix(JOBS))
    assert [(g.board, g.workload) for g in groups] == [("pi5", "resnet18")]  # rk3588 has one variant only
    g = groups[0]
    flags = {(r.precision, r.pruning): opt for r, opt in zip(g.rows, g.optimal)}
    assert flags == {("fp32", "none"): True, ("int8", "none"): True, ("fp32", "50pct"): True,
                     ("int8", "50pct"): True, ("fp16", "none"): False}
    assert g.has_energy and g.missing == ()


def test_peak_key_picks_the_engine() -> None:
    rk = ["int8_npu", "fp32_cpu"]
    assert peak_key(rk, "fp32", cpu=True) == "fp32_cpu"
    assert peak_key(rk, "int8", cpu=False) == "int8_npu"
    assert peak_key(rk, "int8", cpu=True) is None  # a CPU int8 kernel is not measured against the NPU peak
    assert peak_key(["fp32"], "fp32", cpu=False) == "fp32"
    assert peak_key(["fp32_gpu", "fp32_dla"], "fp32", cpu=False) is None  # ambiguous


def test_roofline_percent_of_peak() -> None:
    gemm = job("pi5", "fp32", "none", 0.1, workload="gemm", backend="numpy",
               work={"ops_per_call": 2e9, "ops_unit": "FLOP", "bytes_per_call": 1e9})
    stream = job("old", "fp32", "none", 0.5, workload="stream", backend="numpy", work={"bytes_per_call": 4e9})
    model = job("pi5", "int8", "none", 0.004)  # no work counts: not a kernel
    peaks = {"pi5": Peaks({"fp32": 153.6e9}, 17.07e9, "profile pi5")}
    pts = roofline_points([gemm, stream, model], peaks)
    assert [(p.board, p.workload) for p in pts] == [("old", "stream"), ("pi5", "gemm")]
    old, g = pts
    assert g.ops_per_s == pytest.approx(20e9) and g.bytes_per_s == pytest.approx(10e9) and g.intensity == 2.0
    assert g.pct_compute == pytest.approx(100 * 20 / 153.6)
    assert g.pct_bandwidth == pytest.approx(100 * 10 / 17.07)
    assert g.peak_key == "fp32" and g.note is None
    assert g.attainable_ops_per_s == pytest.approx(2.0 * 17.07e9)  # memory-bound at 2 FLOP/byte
    assert old.bytes_per_s == pytest.approx(8e9) and old.pct_bandwidth is None
    assert old.note == "no device profile recorded for this board"
    no_peak = roofline_points([gemm], {"pi5": "no peak in profile generic-linux"})[0]
    assert no_peak.pct_compute is None and no_peak.note == "no peak in profile generic-linux"
