"""CI gate strings (``--fail-on latency.p50:+5%``) and the metric vocabulary they refer to.

A gate is ``METRIC:[+|-]N%``. The sign names the direction that counts as a regression:

* ``+`` — the metric getting *larger* is bad (latency, energy, memory, power);
* ``-`` — the metric getting *smaller* is bad (throughput);
* no sign — "in the metric's bad direction", taken from :data:`METRICS`.

A sign that contradicts a known metric's direction (``latency.p50:-5%`` would trip on a speed-up) is
rejected rather than silently flipped: such a gate is almost certainly a typo. Thresholds are relative
changes of run B against run A, in percent, and must lie in (0, 1000].
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class MetricDef:
    """A comparable metric: where its value comes from and which way is worse."""

    name: str  # the gate / CLI name
    store_name: str  # name of the stored Metric (benchbench.results.records.Metric.name)
    higher_is_worse: bool
    #: raw-sample statistic the significance test runs on, or None for single values (energy, memory)
    sample_stat: str | None = None


_DEFS = (
    MetricDef("latency.p50", "latency.p50", True, "p50"),
    MetricDef("latency.mean", "latency.mean", True, "mean"),
    MetricDef("latency.p90", "latency.p90", True, "p90"),
    MetricDef("latency.p95", "latency.p95", True, "p95"),
    MetricDef("latency.p99", "latency.p99", True, "p99"),
    MetricDef("throughput", "throughput.items", False, "throughput"),
    MetricDef("energy_per_inference", "energy.per_inference", True),
    MetricDef("power.mean", "power.mean", True),
    MetricDef("mem_peak", "mem.peak_rss", True),
)
METRICS: dict[str, MetricDef] = {d.name: d for d in _DEFS}
#: spellings people use, mapped to the canonical name (design.md writes energy_per_inf)
ALIASES = {
    "energy_per_inf": "energy_per_inference", "energy.per_inference": "energy_per_inference",
    "mem.peak_rss": "mem_peak", "mem_peak_rss": "mem_peak", "throughput.items": "throughput",
    "latency": "latency.p50", "latency.median": "latency.p50", "power": "power.mean",
}

_GATE_RE = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*:\s*(?P<sign>[+-]?)\s*"
                      r"(?P<num>\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


@dataclass(frozen=True)
class Gate:
    """``metric`` regresses when it moves by at least ``threshold`` (fraction) in direction ``worse_if``."""

    metric: str
    threshold: float  # 0.05 for 5 %
    worse_if: str  # "increase" | "decrease"
    text: str  # the string the user wrote, for messages

    @property
    def definition(self) -> MetricDef:
        return METRICS[self.metric]

    def trips(self, rel_change: float) -> bool:
        """True when the relative change (B/A - 1) is at least the threshold in the bad direction."""
        if self.worse_if == "increase":
            return rel_change >= self.threshold
        return -rel_change >= self.threshold


def resolve_metric(name: str) -> MetricDef | None:
    key = name.strip()
    return METRICS.get(ALIASES.get(key, key))


def parse_gate(text: str) -> Gate:
    """Parse one ``METRIC:[+|-]N%`` string; raise ConfigError(key="--fail-on") with one clear line."""
    m = _GATE_RE.match(text)
    known = ", ".join(sorted(METRICS))
    if m is None:
        raise ConfigError(f"cannot parse gate {text!r}; expected METRIC:+N% (e.g. latency.p50:+5%)",
                          key="--fail-on", hint=f"metrics: {known}")
    mdef = resolve_metric(m["metric"])
    if mdef is None:
        raise ConfigError(f"unknown metric {m['metric']!r} in gate {text!r}", key="--fail-on",
                          hint=f"metrics: {known}")
    pct = float(m["num"])
    if not 0.0 < pct <= 1000.0:
        raise ConfigError(f"threshold {pct:g}% in gate {text!r} must be in (0, 1000]", key="--fail-on")
    natural = "increase" if mdef.higher_is_worse else "decrease"
    sign = m["sign"]
    if sign:
        worse_if = "increase" if sign == "+" else "decrease"
        if worse_if != natural:
            good = "+" if natural == "increase" else "-"
            raise ConfigError(f"gate {text!r} would trip on an improvement: {mdef.name} is worse when it "
                              f"{'grows' if natural == 'increase' else 'shrinks'}", key="--fail-on",
                              hint=f"write {mdef.name}:{good}{m['num']}%")
    return Gate(metric=mdef.name, threshold=pct / 100.0, worse_if=natural, text=text.strip())


def parse_gates(texts: Iterable[str]) -> tuple[Gate, ...]:
    return tuple(parse_gate(t) for t in texts)
