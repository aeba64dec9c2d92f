"""One agent job result (typed by the protocol) → metrics and quality warnings: raw values turned into the
``Metric`` records the store keeps. The statistics themselves live in ``analysis`` (pure, plain values)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..agent.protocol import ChannelSummary, EnergyReport, JobResult, MemoryReport, SensorSummary
from ..analysis.quality import JobQualityInput, check_job
from ..analysis.stats import latency_stats
from ..results.records import Metric, Warning_
from . import plausibility

#: when several power sensors exist, the headline is the widest scope available
SCOPE_PRIORITY = ("wall", "board_input", "module_input", "rails_sum", "accelerator", "gpu_board",
                  "cpu_package", "rail")
_UNIT_SCALE = {"FLOP": ("GFLOP/s", 1e9), "OP": ("GOP/s", 1e9)}


def latency_values(result: JobResult) -> list[float]:
    return result.timing.values_s if result.timing else []


class _Figures(NamedTuple):
    """One power/energy channel's figures: from its energy report, else from its window statistics."""

    energy_j: float | None
    mean_power_w: float | None
    peak_power_w: float | None
    method: str
    note: str = ""
    calls: int | None = None  # set for the steady-state energy phase (its own window and call count)
    above_idle_j: float | None = None
    pm_j: float | None = None


def _figures(c: ChannelSummary, rep: EnergyReport | None) -> _Figures:
    if rep is None:
        return _Figures(c.energy_j, c.mean_power_w, c.max, f"{c.method} over timed windows")
    note = "; ".join(list(rep.warnings) + ([rep.window] if rep.window else []))
    return _Figures(rep.energy_j, rep.mean_power_w, rep.peak_power_w, f"{rep.method}", note,
                    rep.inferences if rep.window else None, rep.energy_per_inference_above_idle_j,
                    rep.energy_uncertainty_j)


def _power_metrics(result: JobResult, calls: int, headline: str | None = None) -> list[Metric]:
    """Per-channel energy plus the headline power.mean/peak and energy.per_inference (with scope).

    The agent's per-job energy accounting (``result.energy``) is preferred: it falls back to the mean
    power over the whole timed span when a slow sensor (1 Hz meter, 2 Hz vcgencmd) has too few samples per
    window. ``headline`` (the device profile's choice) wins over the scope priority when it was measured."""
    sensors = result.sensors or SensorSummary()
    rate = sensors.sample_rate_hz
    rate_txt = f"{rate:.1f} Hz" if rate else "unknown rate"
    chans = [c for c in sensors.channels if c.channel.quantity in ("power", "energy")]
    reports = {r.channel: r for r in result.energy if r.energy_j is not None}
    out: list[Metric] = []
    usable: list[tuple[ChannelSummary, _Figures, float]] = []  # (channel summary, figures, energy)
    for c in chans:
        ch = c.channel
        fig = _figures(c, reports.get(ch.name))
        if fig.energy_j is None or any(m.name == f"energy.{ch.name}" for m in out):
            continue  # a name reported twice (two families, one device under two sysfs paths): keep the first
        usable.append((c, fig, fig.energy_j))
        out.append(Metric(f"energy.{ch.name}", fig.energy_j, "J", ch.scope, ch.source,
                          f"{fig.method}; {rate_txt}"))
    if not usable:
        missing = [u["reason"] for u in sensors.unavailable if u.get("quantity") in ("power", "energy")]
        if chans:
            missing.append("power sensors present but too few samples inside the timed windows "
                           f"({rate_txt}); lengthen min_value_s or rounds")
        reason = "; ".join(missing) or "no power or energy sensor configured for this board"
        for name, unit in (("power.mean", "W"), ("energy.per_inference", "J")):
            out.append(Metric(name, None, unit, unavailable_reason=reason))
        return out
    chosen = [u for u in usable if u[0].channel.name == headline]
    best, fig, energy_j = chosen[0] if chosen else min(
        usable, key=lambda u: SCOPE_PRIORITY.index(u[0].channel.scope or "rail"))
    ch = best.channel
    why = "device profile headline" if chosen else "widest scope measured"
    detail = (f"{ch.label or ch.name}; {why}; {fig.method}; {rate_txt}; {best.n_in_windows} samples in timed "
              "windows" + (f"; {fig.note}" if fig.note else ""))
    out.append(Metric("power.mean", fig.mean_power_w, "W", ch.scope, ch.source, detail))
    if fig.peak_power_w is not None:
        out.append(Metric("power.peak", fig.peak_power_w, "W", ch.scope, ch.source, detail))
    if fig.calls:  # the steady-state energy phase: its own window and call count
        n = int(fig.calls)
        pm = f" ± {fig.pm_j / n:.3g} J" if fig.pm_j is not None else ""
        out.append(Metric("energy.per_inference", energy_j / n, "J", ch.scope, ch.source,
                          detail + f"; total over {n} calls{pm}"))
        if fig.above_idle_j is not None:
            out.append(Metric("energy.per_inference_above_idle", fig.above_idle_j, "J", ch.scope, ch.source,
                              detail + "; minus idle power measured before the job"))
    elif calls:
        out.append(Metric("energy.per_inference", energy_j / calls, "J", ch.scope, ch.source,
                          detail + f"; total over {calls} calls"))
    return out


def _sensor_metrics(result: JobResult) -> list[Metric]:
    sensors = result.sensors or SensorSummary()
    out: list[Metric] = []
    for quantity, name, unit in (("temperature", "temp.max", "C"), ("clock", "clock.mean", "MHz")):
        chans = [c for c in sensors.channels if c.channel.quantity == quantity and c.mean is not None]
        if not chans:
            reasons = [u["reason"] for u in sensors.unavailable if u.get("quantity") == quantity]
            why = "; ".join(reasons) or "no samples in windows"
            out.append(Metric(name, None, unit, unavailable_reason=why))
            continue
        if quantity == "temperature":
            c = max(chans, key=lambda c: c.max if c.max is not None else float("-inf"))
            out.append(Metric(name, c.max, unit, source=c.channel.source,
                              detail=f"hottest of {len(chans)} sensors during timed windows"))
        else:
            mean = sum(c.mean for c in chans if c.mean is not None) / len(chans)
            out.append(Metric(name, mean, unit, source=chans[0].channel.source,
                              detail=f"mean of {len(chans)} clock channels during timed windows"))
    return out


def variant_metrics(variant: dict[str, Any]) -> list[Metric]:
    """Model size and fidelity vs the fp32 reference, from the variant facts made on the controller."""
    out: list[Metric] = []
    role = variant.get("primary_role", "main")
    if variant.get("size_bytes"):
        out.append(Metric("model.size", float(variant["size_bytes"]), "bytes", source="variant file",
                          detail=f"{role} graph file"
                          + ("; the decode graph holds the same weights" if role == "prefill" else "")))
    fid = (variant.get("validation") or {}).get(role, {}).get("fidelity")
    if not fid:
        return out
    what = "per-token argmax" if role == "prefill" else "top-1 over [batch, classes]"
    n_out = fid.get("outputs_validated")
    worst = (f"; worst of {n_out} outputs: {fid.get('output')!r}" if n_out and n_out > 1
             else f"; output {fid.get('output')!r}" if fid.get("output") else "")
    detail = f"vs the reference on {fid.get('samples')} held-out inputs ({role} graph{worst})"
    for name, key, unit in (("fidelity.cosine", "cosine_mean", "cosine"),
                            ("fidelity.sqnr_db", "sqnr_db", "dB"),
                            ("fidelity.rel_error", "rel_error", "fraction"),
                            ("fidelity.top1_agreement", "top1_agreement", "fraction"),
                            ("fidelity.max_abs_err", "max_abs_error", "output units"),
                            ("fidelity.perplexity", "perplexity", "perplexity"),
                            ("fidelity.perplexity_ratio", "perplexity_ratio", "ratio")):
        if fid.get(key) is not None:
            extra = f"; {what} over {fid.get('top1_positions')} positions" if key == "top1_agreement" else ""
            if fid.get("stream"):  # a GGUF variant vs its f16 source (workloads.gguf_fidelity)
                extra = f"; EXPLODED (ratio > {fid['explode_threshold']:g})" if fid.get("exploded") else ""
                out.append(Metric(name, float(fid[key]), unit, source="benchbench.workloads.gguf_fidelity",
                                  detail=f"vs f16 on {fid['stream']}{extra}"))
                continue
            out.append(Metric(name, float(fid[key]), unit, source="benchbench.workloads.validation",
                              detail=detail + extra))
    return out


def llm_metrics(extra: dict[str, Any]) -> list[Metric]:
    """TTFT, prefill and decode tokens/s as measured by the onnxruntime-llm backend (medians)."""
    if extra.get("ttft_s") is None:
        return []
    n = extra.get("generations")
    src = str(extra.get("llm_source") or "onnxruntime-llm backend")
    out = [Metric("llm.ttft", float(extra["ttft_s"]), "s", source=src,
                  detail=f"median of {n} generations; {extra.get('prompt_tokens')}-token prompt; "
                         f"{extra.get('ttft_window', '')}"),
           Metric("llm.prefill_tps", float(extra["prefill_tok_per_s"]), "tokens/s",
                  source=src, detail="prompt tokens / median TTFT"),
           Metric("llm.decode_tps", float(extra["decode_tok_per_s"]), "tokens/s",
                  source=src, detail=f"1 / median per-step decode time; {extra.get('decode_window', '')}")]
    lb = extra.get("llama_bench") or {}
    if lb.get("error"):
        out.append(Metric("llm.decode_vs_llama_bench", None, "ratio", unavailable_reason=str(lb["error"])))
    for kind, name in (("tg", "decode"), ("pp", "prefill")):
        if lb.get(f"{kind}_tok_per_s") is None:
            continue
        what = f"llama-bench {kind}{extra.get('new_tokens' if kind == 'tg' else 'prompt_tokens')}"
        out.append(Metric(f"llm.llama_bench_{name}_tps", float(lb[f"{kind}_tok_per_s"]), "tokens/s",
                          source="llama-bench", detail=f"{what}, median of {lb.get('reps')} runs, same model "
                                                      f"and settings, same job; {lb.get('window', '')}"))
        ratio = extra.get(f"llama_bench_{name}_ratio")
        if ratio is not None:
            out.append(Metric(f"llm.{name}_vs_llama_bench", float(ratio), "ratio", source=src,
                              detail=f"benchbench {name} tokens/s ÷ {what} tokens/s, median of "
                                     f"{lb.get('reps')} alternated pairs (1 = the same)"))
    return out


def job_metrics(result: JobResult, work: dict[str, Any], precision: str | None = None,
                min_value_s: float | None = None,
                variant: dict[str, Any] | None = None,
                headline: str | None = None,
                power_limits: Sequence[Mapping[str, Any]] = ()) -> tuple[list[Metric], list[Warning_]]:
    """``power_limits``: the device profile's (board snapshot); implausible power/energy figures are
    voided."""
    metrics: list[Metric] = []
    if variant:
        metrics.extend(variant_metrics(variant))
    metrics.extend(llm_metrics(result.extra))
    warnings: list[Warning_] = []
    values = latency_values(result)
    if values and result.timing:
        timing = result.timing
        st = latency_stats(values)
        window = result.timed_window or "unspecified"
        for key, val in st.to_dict().items():
            if key == "n":
                continue
            metrics.append(Metric(f"latency.{key[:-2]}", val, "s", source="timing engine", detail=window))
        metrics.append(Metric("latency.n", float(st.n), "values", source="timing engine",
                              detail=f"{timing.number} calls per value"))
        if work.get("ops_per_call"):
            unit, scale = _UNIT_SCALE.get(work.get("ops_unit", "FLOP"), ("GFLOP/s", 1e9))
            metrics.append(Metric("throughput.ops", work["ops_per_call"] / st.p50_s / scale, unit,
                                  detail="at median latency"))
        if work.get("bytes_per_call"):
            metrics.append(Metric("throughput.bandwidth", work["bytes_per_call"] / st.p50_s / 1e9, "GB/s",
                                  detail="STREAM-style byte count at median latency"))
        metrics.append(Metric("throughput.items", work.get("items_per_call", 1.0) / st.p50_s,
                              f"{work.get('item_unit', 'call')}/s", detail="at median latency"))
        warnings.extend(_quality(result, values, precision, min_value_s))
    mem = result.memory or MemoryReport()
    for value, name in ((mem.peak_rss_bytes, "mem.peak_rss"),
                        (mem.peak_rss_timed_bytes, "mem.peak_rss_timed"),
                        (mem.rss_after_setup_bytes, "mem.rss_after_setup"),
                        (mem.sys_available_before_bytes, "mem.sys_available_before"),
                        (mem.sys_available_after_bytes, "mem.sys_available_after")):
        if value is not None:
            metrics.append(Metric(name, float(value), "bytes", source=mem.method or "/proc/meminfo"))
    if values:
        calls = int((result.timing.number if result.timing else 0) or 0) * len(values)
        metrics.extend(_power_metrics(result, calls, headline))
        metrics.extend(_sensor_metrics(result))
    for w in result.timing.warnings if result.timing else []:
        warnings.append(Warning_("timing-budget", w,
                                 "raise max_timed_s in the suite, or accept fewer values"))
    metrics, implausible = plausibility.check(metrics, result, power_limits)
    warnings.extend(implausible)
    return metrics, warnings


def _quality(result: JobResult, values: list[float], precision: str | None,
             min_value_s: float | None) -> tuple[Warning_, ...]:
    assert result.timing is not None  # only called with latency values
    timing = result.timing
    sensors = result.sensors or SensorSummary()
    power = [c for c in sensors.channels if c.channel.quantity == "power"]
    throttle = result.throttle or {}
    res_ns = (timing.timer or {}).get("resolution_ns")
    providers = result.extra.get("providers_used") or []
    return check_job(JobQualityInput(
        latency_s=np.asarray(values), calls_per_value=int(timing.number or 1),
        rounds_s=tuple(np.asarray(r.values_s) for r in timing.rounds),
        # no calibration by the engine (pytest-benchmark calibrates itself): nothing to fall short of
        timer_resolution_s=res_ns * 1e-9 if res_ns else None,
        calibration_target_s=min_value_s if timing.calibration else None,
        power_sample_rate_hz=sensors.sample_rate_hz if power else None,
        power_samples_in_windows=min(c.n_in_windows for c in power) if power else None,
        throttle_events=len(throttle.get("evidence", [])) if throttle.get("throttled") else 0,
        precision=precision, execution_provider=providers[0] if providers else None,
        providers_requested=tuple(result.extra.get("providers_requested") or ()),
        providers_used=tuple(providers)))
