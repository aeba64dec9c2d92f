"""The quantization-study statements: speed-ups only when large enough AND the paired interleaved rounds
agree; nothing claimed for sequential or contended jobs."""

from __future__ import annotations

from benchbench.analysis.quantstudy import MIN_EFFECT, compare_variants, summary_sentences
from benchbench.results.records import JobRecord, Metric


def job(precision: str, pruning: str, p50_s: float, ci_halfwidth_s: float, size: float = 1e6,
        workload: str = "resnet18", status: str = "ok", decode_tps: float | None = None,
        rounds: list[float] | None = None, contended: bool = False, interleaved: bool = True) -> JobRecord:
    """A job record; ``rounds``: its per-round medians in interleaved order (default: every round at p50)."""
    metrics = [Metric("latency.p50", p50_s, "s"), Metric("latency.ci95_lo", p50_s - ci_halfwidth_s, "s"),
               Metric("latency.ci95_hi", p50_s + ci_halfwidth_s, "s"), Metric("model.size", size, "bytes"),
               Metric("fidelity.cosine", 0.99, "cosine")]
    if decode_tps is not None:
        metrics.append(Metric("llm.decode_tps", decode_tps, "tokens/s"))
    # per-variant artifact names must not split a model's group
    params = {"resolution": 224, "decode_artifact": f"{workload}-{precision}-{pruning}.decode.onnx"}
    ops = 1e9 * (0.5 if pruning.startswith("structured") else 1.0)
    key = f"{workload}|{precision}|{pruning}"
    details: dict[str, object] = {"contention": {"contended": contended}}
    if interleaved:
        details["interleave"] = {"group": workload, "partners": [k for k in PARTNERS if k != key]}
    raw = {"latency_rounds": [{"values_s": [r, r]} for r in (rounds or [p50_s] * 4)]}
    return JobRecord(run_id="r", board="local", job_key=key, workload=workload,
                     backend="onnxruntime", precision=precision, pruning=pruning, params=params,
                     status=status,
                     metrics=tuple(metrics), work={"ops_per_call": ops}, details=details, raw=raw)


#: every variant key these tests use: the partners an interleaved job lists
PARTNERS = [f"resnet18|{p}|{q}" for p in ("fp32", "fp16", "int8-static")
            for q in ("none", "unstructured-50", "unstructured-75", "structured-50")]


def test_verdicts_need_the_interleaved_rounds_to_agree() -> None:
    jobs = [job("fp32", "none", 0.010, 0.0002),
            job("int8-static", "none", 0.005, 0.0002, size=0.27e6),  # 2x in every round → faster
            job("fp16", "none", 0.0125, 0.0002),  # 1/1.25 in every round → slower
            job("fp32", "unstructured-50", 0.010 * (1 + MIN_EFFECT / 2), 0.0002),  # within the threshold
            # 1.25x at the median, but one round the other way: the paired rounds disagree
            job("fp32", "structured-50", 0.008, 0.0001, rounds=[0.008, 0.008, 0.012, 0.008]),
            job("int8-static", "unstructured-50", 0.001, 0.0001, status="failed")]  # not timed: ignored
    comps = {c.variant: c for c in compare_variants(jobs)}
    assert set(comps) == {"int8-static/none", "fp16/none", "fp32/unstructured-50", "fp32/structured-50"}
    assert comps["int8-static/none"].verdict == "faster" and comps["int8-static/none"].speedup == 2.0
    assert comps["int8-static/none"].size_ratio == 0.27
    assert comps["fp16/none"].verdict == "slower"
    assert comps["fp32/unstructured-50"].verdict == "no speed-up"
    assert comps["fp32/unstructured-50"].baseline == "fp32/none"
    assert comps["fp32/structured-50"].verdict == "unclear"
    text = summary_sentences(list(comps.values()))
    assert text[0].startswith("int8 vs fp32: faster in 1 of 1")
    assert text[1].startswith("unstructured pruning vs dense: no measured speed-up in any of 1")
    assert text[2].startswith("structured pruning vs dense: no measured speed-up in any of 1")
    assert any("gives no speed-up over fp32/none (0.98×)" in t for t in text)
    assert any("1.25× slower than fp32/none" in t for t in text)
    assert any("interleaved rounds disagree" in t for t in text)
    assert comps["fp32/structured-50"].work_ratio == 0.5
    assert not any("does not come from pruning" in t for t in text)
    noisy = compare_variants([job("fp32", "none", 0.010, 0.0001),
                              job("fp32", "unstructured-75", 0.007, 0.0001)])
    assert noisy[0].verdict == "faster" and noisy[0].work_ratio == 1.0
    assert "does not come from pruning" in summary_sentences(noisy)[-1]


def test_contended_or_sequential_jobs_claim_nothing() -> None:
    """The issue's flip: a load change between sequential jobs became '3.49x faster'. Such pairs are
    reported with their ratio but no verdict."""
    seq = compare_variants([job("fp32", "none", 0.010, 0.0001, interleaved=False),
                            job("fp16", "none", 0.003, 0.0001, interleaved=False)])
    assert seq[0].verdict == "not claimed: not interleaved"
    hot = compare_variants([job("fp32", "none", 0.010, 0.0001),
                            job("int8-static", "none", 0.002, 0.0001, contended=True)])
    assert hot[0].verdict == "not claimed: contended (variant)" and hot[0].speedup == 5.0
    text = summary_sentences(hot)
    assert text[0].startswith("int8 vs fp32: no measured speed-up in any of 1")
    assert "not claimed: contended" in text[-1]
    # paired ratios use round i of each: one variant slowed in the same round as the baseline still agrees
    drift = compare_variants([job("fp32", "none", 0.010, 0.0001, rounds=[0.010, 0.020, 0.010, 0.030]),
                              job("int8-static", "none", 0.005, 0.0001, rounds=[0.005, 0.010, 0.005, 0.015])])
    assert drift[0].verdict == "faster" and drift[0].speedup == 2.0


def test_many_rounds_use_the_wilcoxon_signed_rank_test() -> None:
    base = [0.010] * 8
    var = [0.008, 0.008, 0.008, 0.011, 0.008, 0.008, 0.008, 0.008]  # one round the other way
    c = compare_variants([job("fp32", "none", 0.010, 0.0001, rounds=base),
                          job("int8-static", "none", 0.008, 0.0001, rounds=var)])[0]
    assert c.verdict == "faster" and "Wilcoxon" in c.test
    var2 = [0.008, 0.011, 0.008, 0.011, 0.008, 0.011, 0.008, 0.008]
    c2 = compare_variants([job("fp32", "none", 0.010, 0.0001, rounds=base),
                           job("int8-static", "none", 0.008, 0.0001, rounds=var2)])[0]
    assert c2.verdict == "unclear"


def test_pruned_variants_compare_with_the_dense_job_of_their_precision_and_llm_rates_are_quoted() -> None:
    jobs = [job("fp32", "none", 0.004, 0.0001, workload="decoder", decode_tps=250.0),
            job("int4", "none", 0.002, 0.0001, workload="decoder", decode_tps=500.0),
            job("int4", "structured-50", 0.001, 0.0001, workload="decoder", decode_tps=1000.0),
            job("fp32", "none", 0.010, 0.0001)]  # another model: its own group, nothing to compare
    comps = compare_variants(jobs)
    assert sorted((c.workload, c.baseline, c.variant) for c in comps) == [
        ("decoder", "fp32/none", "int4/none"), ("decoder", "int4/none", "int4/structured-50")]
    text = summary_sentences(comps)
    assert any("decode 500 vs 250 tokens/s" in t for t in text)
    assert any("decode 1000 vs 500 tokens/s" in t for t in text)
