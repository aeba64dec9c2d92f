"""pyperf-style quality checks on one job: each warning says what is wrong *and* what to do about it.

Thresholds follow the anchors (see shared/reference/anchors.md): pyperf calls a benchmark unstable when
the standard deviation is >= 10 % of the mean or an extreme lies >= 50 % from the mean, and warns when a
raw value is < 1 ms; pytest-benchmark wants a timed value >= 10x the timer precision (we ask 1000x so
quantisation stays below 0.1 %); MLPerf Power asks for many power samples per measured interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..results.records import Warning_

UNSTABLE_REL_SD = 0.10
UNSTABLE_REL_SPREAD = 0.20  # (p90 - p10) / p50
EXTREME_FROM_MEAN = 0.50
FEW_VALUES = 10
MIN_VALUE_S = 1e-3
TIMER_FACTOR = 1000.0
MIN_POWER_SAMPLES = 10
MAX_OVERHEAD_PCT = 1.0
DRIFT_REL = 0.05  # first vs last round median

_PIN = "pin the process to fixed cores, set the performance governor (or lock clocks), stop other load"


@dataclass(frozen=True)
class JobQualityInput:
    """What the checks look at; everything optional except the raw values."""

    latency_s: np.ndarray  # one entry per timed value, per call (seconds)
    calls_per_value: int = 1
    rounds_s: Sequence[np.ndarray] = field(default_factory=tuple)  # the same values split by round
    timer_resolution_s: float | None = None
    calibration_target_s: float | None = None  # the min_value_s the calibration aimed at
    power_sample_rate_hz: float | None = None
    power_samples_in_windows: int | None = None
    throttle_events: int = 0
    sampling_overhead_pct: float | None = None
    precision: str | None = None
    execution_provider: str | None = None
    #: the ORT providers asked for (board profile or suite) and those the session ran on
    providers_requested: Sequence[str] = ()
    providers_used: Sequence[str] = ()


def _w(code: str, message: str, remedy: str, severity: str = "warning") -> Warning_:
    return Warning_(code=code, message=message, remedy=remedy, severity=severity)


def _dispersion(x: np.ndarray) -> list[Warning_]:
    out: list[Warning_] = []
    mean = float(x.mean())
    if x.size < 2 or mean <= 0:
        return out
    rel_sd = float(x.std(ddof=1)) / mean
    p10, p50, p90 = (float(v) for v in np.percentile(x, [10, 50, 90]))
    spread = (p90 - p10) / p50 if p50 > 0 else 0.0
    if rel_sd >= UNSTABLE_REL_SD or spread > UNSTABLE_REL_SPREAD:
        out.append(_w("unstable", f"relative sd {rel_sd:.1%}, (p90-p10)/p50 {spread:.1%}: the values vary "
                      "too much to trust small differences", f"{_PIN}; lengthen warm-up; raise rounds"))
    worst = max(abs(float(x.min()) - mean), abs(float(x.max()) - mean)) / mean
    if worst >= EXTREME_FROM_MEAN:
        out.append(_w("extreme-values", f"an extreme value lies {worst:.0%} from the mean",
                      "look for background load, interrupts or throttling; interleave rounds", "info"))
    return out


def check_job(q: JobQualityInput) -> tuple[Warning_, ...]:
    x = np.asarray(q.latency_s, dtype=np.float64)
    out: list[Warning_] = []
    if x.size == 0:
        return (_w("no-values", "no timed values were kept", "check the job's status and stderr", "error"),)
    if x.size < FEW_VALUES:
        out.append(_w("few-values", f"only {x.size} timed values (< {FEW_VALUES}); percentiles and tests "
                      "are weak", "raise rounds or values_per_round"))
    out.extend(_dispersion(x))
    value_s = float(np.median(x)) * max(q.calls_per_value, 1)
    if value_s < MIN_VALUE_S:
        out.append(_w("short-values", f"one timed value lasts {value_s * 1e6:.0f} µs (< 1 ms): timer and "
                      "scheduling noise dominate",
                      "raise min_value_s so calibration loops more calls per value"))
    if q.timer_resolution_s and value_s < TIMER_FACTOR * q.timer_resolution_s:
        out.append(_w("timer-resolution",
                      f"one timed value ({value_s * 1e9:.0f} ns) is < {TIMER_FACTOR:.0f}x the timer "
                      f"resolution ({q.timer_resolution_s * 1e9:.0f} ns)", "raise min_value_s"))
    if q.calibration_target_s and value_s < 0.5 * q.calibration_target_s:
        out.append(_w("calibration", f"timed values ({value_s * 1e3:.2f} ms) fell well short of the "
                      f"calibration target ({q.calibration_target_s * 1e3:.2f} ms): the workload sped up "
                      "after calibrating", "lengthen warm-up so calibration runs on a warm workload"))
    out.extend(_drift(q.rounds_s))
    out.extend(_power(q, x))
    if q.throttle_events > 0:
        out.append(_w("throttled", f"{q.throttle_events} throttle event(s) during the timed windows; these "
                      "numbers are excluded from regression detection",
                      "let the board cool down between jobs, "
                      "add a heatsink/fan, or lower the power mode consistently", "error"))
    if q.sampling_overhead_pct is not None and q.sampling_overhead_pct > MAX_OVERHEAD_PCT:
        out.append(_w("sampling-overhead", "sensor sampling slows the workload by "
                      f"{q.sampling_overhead_pct:.1f} % (> {MAX_OVERHEAD_PCT:.0f} %)",
                      "raise the sampling interval or drop costly sensor families"))
    ep = (q.execution_provider or "").lower()
    if (q.precision or "").lower() in ("fp16", "float16") and ep.startswith("cpu"):
        out.append(_w("fp16-on-cpu", "fp16 model on the CPU execution provider: most CPU kernels upcast to "
                      "fp32, so this measures the casts, not fp16 arithmetic",
                      "compare fp16 on a GPU/NPU provider, or use int8 for CPU", "info"))
    out.extend(_fallback(q))
    return tuple(out)


def _fallback(q: JobQualityInput) -> list[Warning_]:
    """An accelerator was asked for but the job ran on the CPU: the number describes the CPU, not the board's
    accelerator."""
    wanted = [p for p in q.providers_requested if not p.startswith("CPU")]
    if not wanted or not q.providers_used or any(not p.startswith("CPU") for p in q.providers_used):
        return []
    return [_w("accelerator-fallback", f"asked for {', '.join(wanted)} but ran on "
               f"{', '.join(q.providers_used)}: this measures the CPU, not the board's accelerator",
               "install an onnxruntime build with that execution provider on the board "
               "(e.g. onnxruntime-gpu / the vendor's wheel) and its libraries")]


def _drift(rounds: Sequence[np.ndarray]) -> list[Warning_]:
    meds = [float(np.median(r)) for r in rounds if len(r)]
    if len(meds) < 2 or meds[0] <= 0:
        return []
    drift = meds[-1] / meds[0] - 1.0
    if abs(drift) < DRIFT_REL:
        return []
    return [_w("drift", f"the last round's median is {drift:+.1%} off the first's: the board warmed up, "
               "throttled or clocks changed during the job", "lengthen warm-up and cool-down; check clocks")]


def _power(q: JobQualityInput, x: np.ndarray) -> list[Warning_]:
    if q.power_sample_rate_hz is None and q.power_samples_in_windows is None:
        return []
    n = q.power_samples_in_windows
    if n is None and q.power_sample_rate_hz:
        window_s = float(x.sum()) * max(q.calls_per_value, 1)
        n = int(window_s * q.power_sample_rate_hz)
    if n is not None and n < MIN_POWER_SAMPLES:
        rate = f" at {q.power_sample_rate_hz:g} Hz" if q.power_sample_rate_hz else ""
        return [_w("power-sampling-slow", f"only {n} power samples fell inside the timed windows{rate}; "
                   "energy per inference is poorly resolved", "raise rounds or min_value_s so windows span "
                   "more samples, or use an energy counter (RAPL/NVML)")]
    return []
