"""Small hand-written SVG charts: trend lines (site history) and box plots (run reports).

matplotlib costs ~50 ms per figure; a published site has a trend figure per (board, workload, metric),
thousands in a large lab, and a nightly report a box plot per model, so these are drawn directly: a few
hundred bytes of markup per series or box, every text escaped, no scripts, no external fonts or references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#d62728")
W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 24, 40


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]  # one per x position; None where the run has no value
    excluded: Sequence[bool] = ()  # drawn hollow: kept in the plot, not used for detection
    steps: Sequence[int] = ()  # x positions where a confirmed shift began (worse)
    improvements: Sequence[int] = field(default_factory=tuple)  # shifts for the better


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def trend_svg(title: str, x_labels: Sequence[str], lines: Sequence[Line], y_label: str) -> Markup:
    """Lines over runs (x = run order), hollow points for excluded runs, ▲ where a regression began."""
    n = len(x_labels)
    vals = [v for ln in lines for v in ln.values if v is not None and math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return TOP + ph * (1 - (v - lo) / (hi - lo))

    e = escape
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-label="{e(title)}" font-family="sans-serif" font-size="10">'),
             f'<text x="{W / 2:.0f}" y="14" text-anchor="middle" font-size="12">{e(title)}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in _nice_ticks(lo, hi):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 4}" y="{y(t) + 3:.1f}" text-anchor="end">{e(_fmt(t))}</text>')
    every = max(1, math.ceil(n / 10))
    for i in range(0, n, every):
        parts.append(f'<text x="{x(i):.1f}" y="{TOP + ph + 14}" text-anchor="middle">{e(x_labels[i])}</text>')
    parts.append(f'<text x="14" y="{TOP + ph / 2:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + ph / 2:.0f})">{e(y_label)}</text>')
    # every coordinate is formatted once (x per run, y per point): a history page draws thousands
    xs = [f"{x(i):.1f}" for i in range(n)]
    span = hi - lo
    for k, ln in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        pts = [(i, f"{TOP + ph * (1 - (v - lo) / span):.1f}")  # y(v), inlined
               for i, v in enumerate(ln.values) if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            path = " ".join([f"{xs[i]},{yv}" for i, yv in pts])
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5">'
                         f'<title>{e(ln.label)}</title></polyline>')
        n_ex = len(ln.excluded)
        solid = f'" r="2.5" fill="{colour}" stroke="{colour}"/>'
        hollow = f'" r="2.5" fill="white" stroke="{colour}"/>'
        parts.extend([f'<circle cx="{xs[i]}" cy="{yv}'
                       + (hollow if i < n_ex and ln.excluded[i] else solid) for i, yv in pts])
        marks = [(i, "▲", "#cf222e") for i in ln.steps] + [(i, "▼", "#1a7f37") for i in ln.improvements]
        for i, mark, col in marks:
            if 0 <= i < n and ln.values[i] is not None:
                parts.append(f'<text x="{x(i):.1f}" y="{y(ln.values[i] or 0.0) - 6:.1f}" '
                             f'text-anchor="middle" fill="{col}" font-size="12">{mark}<title>{e(ln.label)}: '
                             f'shift began at {e(x_labels[i])}</title></text>')
    ly = TOP + ph + 28
    lx = LEFT
    for k, ln in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        label = ln.label if len(ln.label) <= 40 else ln.label[:39] + "…"
        parts.append(f'<rect x="{lx}" y="{ly - 7}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{lx + 13}" y="{ly}">{e(label)}</text>')
        lx += 20 + 6 * len(label)
        if lx > W - 120:
            lx, ly = LEFT, ly + 12
    parts.append("</svg>")
    height = ly + 8
    svg = "".join(parts)
    if height > H:  # legend wrapped: grow the canvas instead of clipping it
        svg = svg.replace(f'viewBox="0 0 {W} {H}" width="{W}" height="{H}"',
                          f'viewBox="0 0 {W} {height}" width="{W}" height="{height}"', 1)
    return Markup(svg)


@dataclass(frozen=True)
class Box:
    label: str
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    fliers: Sequence[float] = ()  # values outside p5–p95


#: box slots at least this wide (few boxes) get wider boxes and level labels on two lines; narrower ones
#: (many boxes, 22 px each) slanted one-line labels
_WIDE_SLOT = 90


def _level_label(cx: float, y0: int, label: str, slot: float) -> str:
    """A label under a wide slot, level, split at its " · " (board and variant, then backend)."""
    fit = max(8, int(slot / 5.2))  # characters of 9 px sans-serif that fit the slot
    lines = [t if len(t) <= fit else t[:fit - 1] + "…" for t in label.split(" · ", 1)]
    spans = "".join(f'<tspan x="{cx:.0f}" dy="{0 if k == 0 else 11}">{escape(t)}</tspan>'
                    for k, t in enumerate(lines))
    return f'<text y="{y0 + 8}" text-anchor="middle"><title>{escape(label)}</title>{spans}</text>'


def box_svg(title: str, boxes: Sequence[Box], y_label: str, log: bool = False) -> Markup:
    """Box plot (box p25–p75, a line at the median, whiskers p5–p95, dots beyond), ~300 bytes per box."""
    step = 22
    bw, bh = max(W - LEFT - RIGHT, step * len(boxes)), 200
    wide = bw / max(len(boxes), 1) >= _WIDE_SLOT
    bottom = 40 if wide else 80  # two level lines, or rotated labels
    width, height = LEFT + bw + RIGHT, TOP + bh + bottom
    vals = [v for b in boxes for v in (b.p5, b.p95, *b.fliers) if v > 0 or not log]
    lo, hi = (min(vals), max(vals)) if vals else (1.0, 2.0)
    tf = math.log10 if log else (lambda v: v)
    tlo, thi = tf(lo), tf(hi)
    pad = (thi - tlo) * 0.06 or 1.0
    tlo, thi = tlo - pad, thi + pad

    def y(v: float) -> float:
        return TOP + bh * (1 - (tf(max(v, lo)) - tlo) / (thi - tlo))

    e = escape
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{e(title)}" font-family="sans-serif" font-size="9">'),
             f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-size="12">{e(title)}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{bw}" height="{bh}" fill="none" stroke="#999"/>']
    ticks = [10.0**k for k in range(math.floor(tlo), math.ceil(thi) + 1)] if log else _nice_ticks(tlo, thi)
    for t in ticks:
        if tlo <= tf(t) <= thi:
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + bw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eee"/>'
                         f'<text x="{LEFT - 4}" y="{y(t) + 3:.1f}" text-anchor="end">{e(_fmt(t))}</text>')
    parts.append(f'<text x="12" y="{TOP + bh / 2:.0f}" text-anchor="middle" transform="rotate(-90 12 '
                 f'{TOP + bh / 2:.0f})">{e(y_label + (" (log)" if log else ""))}</text>')
    slot = bw / max(len(boxes), 1)
    for i, b in enumerate(boxes):
        cx = LEFT + slot * (i + 0.5)
        half = min(slot / 6, 24.0) if wide else min(7.0, slot / 3)
        x0, x1 = cx - half, cx + half
        # whole pixels: at 2 000 boxes per report every byte of path data counts
        d = (f"M{cx:.0f} {y(b.p5):.0f}V{y(b.p25):.0f}M{cx:.0f} {y(b.p75):.0f}V{y(b.p95):.0f}"
             f"M{x0:.0f} {y(b.p25):.0f}H{x1:.0f}V{y(b.p75):.0f}H{x0:.0f}Z"
             f"M{x0:.0f} {y(b.p50):.0f}H{x1:.0f}")
        parts.append(f'<path d="{d}" fill="#dbe9f6" stroke="#1f77b4"/>')
        if b.fliers:
            dots = "".join(f"M{cx:.0f} {y(v):.0f}h0" for v in b.fliers)
            parts.append(f'<path d="{dots}" stroke="#555" stroke-width="3" stroke-linecap="round"/>')
        ly = TOP + bh + 6
        parts.append(_level_label(cx, ly, b.label, slot) if wide else
                     f'<text x="{cx:.0f}" y="{ly}" text-anchor="end" transform="rotate(-60 {cx:.0f} {ly})">'
                     f'{e(b.label if len(b.label) <= 28 else b.label[:27] + "…")}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
