"""Hand-written SVG scatter plots for the report: the latency/fidelity Pareto plot and the roofline plot.

Like :mod:`svgplot`: every text escaped, no scripts, no external references, a few hundred bytes per
point set, so a run with hundreds of models stays small and renders in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from .svgplot import _fmt, _nice_ticks

W, H = 480, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 26, 44
#: energy colour ramp, low → high (colour-blind safe: viridis ends and middle)
_RAMP = ((0x44, 0x01, 0x54), (0x21, 0x91, 0x8c), (0xfd, 0xe7, 0x25))


@dataclass(frozen=True)
class ParetoPoint:
    label: str
    latency_ms: float
    fidelity: float
    energy_mj: float | None
    optimal: bool


def _colour(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(t), len(_RAMP) - 2)
    f = t - i
    a, b = _RAMP[i], _RAMP[i + 1]
    return "#" + "".join(f"{round(a[k] + (b[k] - a[k]) * f):02x}" for k in range(3))


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    e = escape
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    return [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-label="{e(title)}" font-family="sans-serif" font-size="10">'),
            f'<text x="{W / 2:.0f}" y="14" text-anchor="middle" font-size="12">{e(title)}</text>',
            f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
            f'<text x="{LEFT + pw / 2:.0f}" y="{H - 6}" text-anchor="middle">{e(x_label)}</text>',
            (f'<text x="12" y="{TOP + ph / 2:.0f}" text-anchor="middle" '
             f'transform="rotate(-90 12 {TOP + ph / 2:.0f})">{e(y_label)}</text>')]


def pareto_svg(title: str, points: Sequence[ParetoPoint]) -> Markup:
    """Latency (x) vs fidelity (y); the front joined by a line; dots coloured and sized by energy per
    inference (grey, fixed size when unavailable); front points ringed."""
    e = escape
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    xs = [p.latency_ms for p in points]
    finite = [p.fidelity for p in points if math.isfinite(p.fidelity)]
    # the reference itself has SQNR +inf: drawn on a line above the best measured variant, labelled ∞
    y_inf = (max(finite) if finite else 0.0) + 10.0
    shown = ["∞" if math.isinf(p.fidelity) else f"{p.fidelity:.4g}" for p in points]
    points = [p if math.isfinite(p.fidelity) else
              ParetoPoint(p.label, p.latency_ms, y_inf if p.fidelity > 0 else y_inf - 20.0, p.energy_mj,
                          p.optimal)
              for p in points]
    ys = [p.fidelity for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    xpad = (x1 - x0) * 0.08 or x1 * 0.05 or 1.0
    ypad = (y1 - y0) * 0.1 or 0.001
    x0, x1, y0, y1 = x0 - xpad, x1 + xpad, y0 - ypad, y1 + ypad

    def x(v: float) -> float:
        return LEFT + pw * (v - x0) / (x1 - x0)

    def y(v: float) -> float:
        return TOP + ph * (1 - (v - y0) / (y1 - y0))

    parts = _frame(title, "median latency (ms)", "SQNR vs reference (dB, worst output)")
    for t in _nice_ticks(y0, y1, 4):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 4}" y="{y(t) + 3:.1f}" text-anchor="end">{e(_fmt(t))}</text>')
    for t in _nice_ticks(x0, x1, 5):
        parts.append(f'<text x="{x(t):.1f}" y="{TOP + ph + 13}" text-anchor="middle">{e(_fmt(t))}</text>')
    front = sorted((p for p in points if p.optimal), key=lambda p: p.latency_ms)
    if len(front) > 1:
        path = " ".join(f"{x(p.latency_ms):.1f},{y(p.fidelity):.1f}" for p in front)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#cf222e" stroke-dasharray="4 3"/>')
    energies = [p.energy_mj for p in points if p.energy_mj is not None]
    elo, ehi = (min(energies), max(energies)) if energies else (0.0, 1.0)
    for p, fid_text in zip(points, shown):
        if p.energy_mj is None:
            fill, r = "#999", 5.0
        else:
            t = (p.energy_mj - elo) / (ehi - elo) if ehi > elo else 0.5
            fill, r = _colour(t), 4.0 + 5.0 * t
        ring = ' stroke="#cf222e" stroke-width="2"' if p.optimal else ' stroke="#fff"'
        energy = f"{p.energy_mj:.3g} mJ" if p.energy_mj is not None else "energy unavailable"
        parts.append(f'<circle cx="{x(p.latency_ms):.1f}" cy="{y(p.fidelity):.1f}" r="{r:.1f}" '
                     f'fill="{fill}"{ring}>'
                     f'<title>{e(p.label)}: {p.latency_ms:.4g} ms, SQNR {e(fid_text)} dB, {e(energy)}'
                     f'{" (Pareto-optimal)" if p.optimal else ""}</title></circle>'
                     f'<text x="{x(p.latency_ms) + r + 2:.1f}" y="{y(p.fidelity) + 3:.1f}" font-size="9">'
                     f'{e(p.label)}</text>')
    legend = (f"colour/size: energy per inference {elo:.3g}–{ehi:.3g} mJ" if energies
              else "energy unavailable")
    parts.append(f'<text x="{W - RIGHT}" y="{TOP - 4}" text-anchor="end" font-size="9">{e(legend)}; '
                 f'red ring: Pareto-optimal</text></svg>')
    return Markup("".join(parts))


@dataclass(frozen=True)
class RoofPoint:
    label: str
    intensity: float  # ops per byte
    ops_per_s: float


def roofline_svg(title: str, unit: str, peak_ops_per_s: float, peak_bytes_per_s: float,
                 points: Sequence[RoofPoint]) -> Markup:
    """Log-log roofline: attainable = min(peak compute, intensity × peak bandwidth); kernels as dots."""
    e = escape
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    ridge = peak_ops_per_s / peak_bytes_per_s
    xs = [p.intensity for p in points] + [ridge]
    ys = [p.ops_per_s for p in points] + [peak_ops_per_s]
    lx0, lx1 = math.floor(math.log10(min(xs))) - 0.2, math.ceil(math.log10(max(xs))) + 0.2
    ly0, ly1 = math.floor(math.log10(min(ys))) - 0.2, math.log10(peak_ops_per_s) + 0.3

    def x(v: float) -> float:
        return LEFT + pw * (math.log10(v) - lx0) / (lx1 - lx0)

    def y(v: float) -> float:
        return TOP + ph * (1 - (math.log10(max(v, 10**ly0)) - ly0) / (ly1 - ly0))

    parts = _frame(title, "arithmetic intensity (ops/byte, log)", f"achieved G{unit}/s (log)")
    for k in range(math.ceil(ly0), math.floor(ly1) + 1):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(10**k):.1f}" y2="{y(10**k):.1f}" '
                     'stroke="#eee"/>'
                     f'<text x="{LEFT - 4}" y="{y(10**k) + 3:.1f}" text-anchor="end">'
                     f'{e(_fmt(10**k / 1e9))}</text>')
    for k in range(math.ceil(lx0), math.floor(lx1) + 1):
        parts.append(f'<text x="{x(10**k):.1f}" y="{TOP + ph + 13}" text-anchor="middle">'
                     f'{e(_fmt(10**k))}</text>')
    xa = 10**lx0
    roof = [(xa, min(peak_ops_per_s, xa * peak_bytes_per_s)), (ridge, peak_ops_per_s),
            (10**lx1, peak_ops_per_s)]
    path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in roof if a >= xa)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#cf222e" stroke-width="1.5">'
                 f'<title>roof: {peak_ops_per_s / 1e9:.4g} G{e(unit)}/s, '
                 f'{peak_bytes_per_s / 1e9:.4g} GB/s</title>'
                 f'</polyline>')
    for p in points:
        parts.append(f'<circle cx="{x(p.intensity):.1f}" cy="{y(p.ops_per_s):.1f}" r="4" fill="#1f77b4">'
                     f'<title>{e(p.label)}: {p.ops_per_s / 1e9:.4g} G{e(unit)}/s at '
                     f'{p.intensity:.3g} ops/byte</title>'
                     f'</circle>')
    parts.append("</svg>")
    return Markup("".join(parts))
