"""CI gate strings: the accepted forms, the direction rule, and one-line errors on bad input."""

from __future__ import annotations

import pytest

from benchbench.analysis.gates import parse_gate, parse_gates
from benchbench.errors import ConfigError


@pytest.mark.parametrize("text, metric, threshold, worse_if", [
    ("latency.p50:+5%", "latency.p50", 0.05, "increase"),
    ("energy_per_inference:+3%", "energy_per_inference", 0.03, "increase"),
    ("energy_per_inf:+3%", "energy_per_inference", 0.03, "increase"),
    ("mem_peak:+10%", "mem_peak", 0.10, "increase"),
    ("throughput:-5%", "throughput", 0.05, "decrease"),
    ("throughput:5%", "throughput", 0.05, "decrease"),
    ("latency.p99: +2.5 %", "latency.p99", 0.025, "increase"),
    ("latency.p50:.5%", "latency.p50", 0.005, "increase"),
])
def test_valid_gates(text: str, metric: str, threshold: float, worse_if: str) -> None:
    g = parse_gate(text)
    assert (g.metric, g.worse_if) == (metric, worse_if)
    assert g.threshold == pytest.approx(threshold)


def test_gate_trips_only_in_the_bad_direction() -> None:
    lat = parse_gate("latency.p50:+5%")
    assert lat.trips(0.06) and lat.trips(0.05) and not lat.trips(0.049) and not lat.trips(-0.5)
    thr = parse_gate("throughput:-5%")
    assert thr.trips(-0.07) and not thr.trips(0.5) and not thr.trips(-0.01)


@pytest.mark.parametrize("text, fragment", [
    ("latency.p50", "cannot parse"),
    ("latency.p50:+5", "cannot parse"),
    ("latency.p50:+five%", "cannot parse"),
    (":+5%", "cannot parse"),
    ("latency.p42:+5%", "unknown metric"),
    ("latency.p50:+0%", "must be in (0, 1000]"),
    ("latency.p50:+5000%", "must be in (0, 1000]"),
    ("latency.p50:-5%", "would trip on an improvement"),
    ("throughput:+5%", "would trip on an improvement"),
])
def test_bad_gates_raise_config_error_on_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_gate(text)
    assert exc.value.key == "--fail-on"
    msg = str(exc.value)
    assert msg.startswith("--fail-on: ") and fragment in msg and "\n" not in msg


def test_wrong_sign_hint_gives_the_right_spelling() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_gate("latency.p50:-5%")
    assert exc.value.hint == "write latency.p50:+5%"


def test_parse_gates_keeps_order() -> None:
    gates = parse_gates(["mem_peak:+10%", "latency.p50:+5%"])
    assert [g.metric for g in gates] == ["mem_peak", "latency.p50"]
