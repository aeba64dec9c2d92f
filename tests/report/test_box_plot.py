"""Latency box plots: one drawing (svgplot) for every report size (#14.4). Few boxes get wide boxes and level
two-line labels; many boxes keep slim boxes and slanted labels."""

from __future__ import annotations

import re

from benchbench.report.svgplot import Box, box_svg


def _boxes(n: int) -> list[Box]:
    return [Box(f"pi5 <{i}> fp32 · onnxruntime", 1.0, 2.0, 3.0, 4.0, 5.0, [0.5, 9.0]) for i in range(n)]


def _box_widths(svg: str) -> list[int]:
    """The width of each box (its p25–p75 rectangle, ``M x0 y H x1 V …``) in px."""
    return [int(x1) - int(x0) for x0, x1 in re.findall(r"M(\d+) \d+H(\d+)V", svg)]


def _canvas_width(svg: str) -> int:
    found = re.search(r'<svg [^>]*\bwidth="(\d+)"', svg)
    assert found
    return int(found.group(1))


def test_few_boxes_read_level_on_two_lines() -> None:
    svg = str(box_svg("resnet18 & co", _boxes(3), "latency per call (ms)"))
    assert 'aria-label="resnet18 &amp; co"' in svg
    assert svg.count("<tspan") == 6 and "rotate(-60" not in svg
    assert ">pi5 &lt;0&gt; fp32</tspan>" in svg and ">onnxruntime</tspan>" in svg
    assert "<title>pi5 &lt;2&gt; fp32 · onnxruntime</title>" in svg  # the whole label on hover
    widths = _box_widths(svg)
    assert len(widths) == 3 and min(widths) >= 30  # wide boxes in wide slots, not 14 px slivers


def test_many_boxes_keep_slanted_labels() -> None:
    svg = str(box_svg("t", _boxes(80), "ms", log=True))
    assert svg.count("rotate(-60") == 80 and "<tspan" not in svg
    # the canvas grows with the boxes instead of squeezing them
    assert _canvas_width(svg) > _canvas_width(str(box_svg("t", _boxes(40), "ms", log=True)))
