"""Grouped bars per board × model: median latency (with its 95 % CI as a whisker), energy per inference and
peak memory across precision × pruning, each panel a small hand-written inline SVG (a 2 000-job run has
hundreds of them; matplotlib would take minutes) with its numbers in a table beside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ..analysis.matrix import DENSE, REFERENCE_PRECISION, group_key
from ..results.records import JobRecord
from .findingsview import group_anchor, params_text
from .viewmodel import _UNIFY, fmt_in, row_anchor, time_unit

PRUNE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
BAR, GAP, LEFT, TOP, PH, BOTTOM = 16, 6, 40, 18, 90, 46


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # in the panel's unit; None: not measured (drawn as "n/a")
    lo: float | None = None  # CI whisker
    hi: float | None = None
    colour: str = PRUNE_COLOURS[0]
    why: str = ""  # tooltip for a missing value


def _num(v: float) -> str:
    return f"{v:.3g}"


def bar_svg(title: str, unit: str, bars: Sequence[Bar], labels: bool = True) -> Markup:
    """Bars from zero (lengths compare honestly), whiskers where a CI exists, "n/a" where unmeasured."""
    e = escape
    w = LEFT + len(bars) * (BAR + GAP) + GAP
    h = TOP + PH + (BOTTOM if labels else 8)
    top = max((max(b.value, b.hi or 0.0) for b in bars if b.value is not None), default=0.0) or 1.0

    def y(v: float) -> float:
        return TOP + PH * (1 - v / (top * 1.05))

    p = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
          f'role="img" aria-label="{e(title)} ({e(unit)})" font-family="sans-serif" font-size="9">'),
         f'<text x="2" y="10" font-size="10">{e(title)} ({e(unit)})</text>',
         f'<path d="M{LEFT} {TOP}V{TOP + PH}H{w}" fill="none" stroke="#999"/>',
         (f'<text x="{LEFT - 3}" y="{y(top) + 3:.0f}" text-anchor="end">{e(_num(top))}</text>'
          f'<text x="{LEFT - 3}" y="{TOP + PH}" text-anchor="end">0</text>')]
    for i, b in enumerate(bars):
        x = LEFT + GAP + i * (BAR + GAP)
        if b.value is None:
            p.append(f'<text x="{x + BAR // 2}" y="{TOP + PH - 3}" text-anchor="middle" fill="#8a5a00">n/a'
                     f'<title>{e(b.label)}: {e(b.why or "not measured")}</title></text>')
        else:
            yt = y(b.value)
            p.append(f'<rect x="{x}" y="{yt:.0f}" width="{BAR}" height="{TOP + PH - yt:.0f}" '
                     f'fill="{b.colour}"><title>{e(b.label)}: {e(_num(b.value))} {e(unit)}</title></rect>')
            if b.lo is not None and b.hi is not None:
                c = x + BAR // 2
                p.append(f'<path d="M{c} {y(b.lo):.0f}V{y(b.hi):.0f}'
                         f'M{c - 3} {y(b.lo):.0f}h6M{c - 3} {y(b.hi):.0f}h6" stroke="#222"/>')
        lx, ly = x + BAR // 2, TOP + PH + 6
        if labels:  # the other panels of a figure keep the same order: their labels would repeat these
            p.append(f'<text x="{lx}" y="{ly}" text-anchor="end" transform="rotate(-50 {lx} {ly})">'
                 f'{e(b.label if len(b.label) <= 14 else b.label[:13] + "…")}</text>')
    p.append("</svg>")
    return Markup("".join(p))


def _variant(j: JobRecord) -> str:
    return j.precision if j.pruning == DENSE else f"{j.precision} · {j.pruning}"


def _why(j: JobRecord, name: str) -> str:
    m = j.metric(name)
    return (m.unavailable_reason or "not measured") if m is not None else "not measured by this job"


#: bar figures per report: a 2 000-job run has 200 boards × models, and the report must stay ≤ 5 MB; the
#: rest are in the matrix's tables and the site's boards-side-by-side page
MAX_FIGURES = 40


def bars_view(jobs: Iterable[JobRecord], limit: int = MAX_FIGURES) -> list[dict[str, object]]:
    """Per board × model (× backend and params) with at least two ok variants: three panels and a table."""
    groups: dict[tuple[str, str, str], list[JobRecord]] = {}
    for j in jobs:
        if j.status == "ok" and j.value("latency.p50"):
            groups.setdefault(group_key(j), []).append(j)
    out: list[dict[str, object]] = []
    for (board, workload, pk), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        if len(out) == limit:
            out.append({"more": sum(1 for m in groups.values() if len(m) > 1) - limit})
            break
        members.sort(key=lambda j: (j.pruning != DENSE, j.pruning, j.precision != REFERENCE_PRECISION,
                                    j.precision))
        prunings = sorted({j.pruning for j in members}, key=lambda q: (q != DENSE, q))
        colour = {q: PRUNE_COLOURS[i % len(PRUNE_COLOURS)] for i, q in enumerate(prunings)}
        ls, lu = time_unit([j.value("latency.p50") or 0.0 for j in members])
        es, eu = time_unit([v for j in members if (v := j.value("energy.per_inference")) is not None],
                           _UNIFY["energy.per_inference"])
        ms, mu = time_unit([v for j in members if (v := j.value("mem.peak_rss")) is not None],
                           _UNIFY["mem.peak_rss"])

        def scaled(j: JobRecord, name: str, sc: float) -> float | None:
            v = j.value(name)
            return v / sc if v is not None else None

        lat = [Bar(_variant(j), scaled(j, "latency.p50", ls), scaled(j, "latency.ci95_lo", ls),
                   scaled(j, "latency.ci95_hi", ls), colour[j.pruning]) for j in members]
        en = [Bar(_variant(j), scaled(j, "energy.per_inference", es), colour=colour[j.pruning],
                  why=_why(j, "energy.per_inference")) for j in members]
        mem = [Bar(_variant(j), scaled(j, "mem.peak_rss", ms), colour=colour[j.pruning],
                   why=_why(j, "mem.peak_rss")) for j in members]
        rows = [{"variant": _variant(j), "href": "#" + row_anchor(board, j.job_key),
                 "p50": fmt_in(j.value("latency.p50") or 0.0, ls, lu),
                 "ci": (f"{fmt_in(lo, ls, lu).split()[0]}–{fmt_in(hi, ls, lu)}"
                        if (lo := j.value("latency.ci95_lo")) is not None
                        and (hi := j.value("latency.ci95_hi")) is not None else "–"),
                 "energy": (fmt_in(v, es, eu) if (v := j.value("energy.per_inference")) is not None
                            else "unavailable"),
                 "mem": fmt_in(v, ms, mu) if (v := j.value("mem.peak_rss")) is not None else "–"}
                for j in members]
        backend = members[0].backend
        out.append({"id": group_anchor(board, workload, pk), "board": board, "workload": workload,
                    "params": params_text(pk), "backend": backend, "prunings": len(prunings) > 1,
                    "legend": [(q, colour[q]) for q in prunings],
                    "svgs": [bar_svg("median latency, 95 % CI", lu, lat),
                             bar_svg("energy / inference", eu, en, False),
                             bar_svg("peak RSS", mu, mem, False)], "rows": rows})
    return out
