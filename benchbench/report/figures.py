"""Figures as inline SVG (matplotlib, Agg; text kept as escaped <text>, no external fonts or links)."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..results.records import JobRecord  # noqa: E402

matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "benchbench"  # deterministic ids → byte-identical reruns


def _svg(fig: "matplotlib.figure.Figure") -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE for inlining


def latency_distribution(title: str, jobs: list[JobRecord]) -> str | None:
    """Box plot of every raw latency value per job (log scale when the spread is wide)."""
    data, labels = [], []
    for j in jobs:
        values = [v * 1e3 for r in j.raw.get("latency_rounds", []) for v in r["values_s"]]
        if values:
            data.append(values)
            labels.append(f"{j.board}\n{j.precision} · {j.backend}")
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(data) + 2), 3.2))
    ax.boxplot(data, showfliers=True, whis=(5, 95))
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
    ax.set_ylabel("latency per call (ms)")
    ax.set_title(title, fontsize=9)
    lo = min(min(d) for d in data)
    hi = max(max(d) for d in data)
    if lo > 0 and hi / lo > 20:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


#: above this many boxes in one run, box plots are drawn by :func:`svgplot.box_svg` (~1 ms per figure)
#: instead of matplotlib (~0.3 s per figure, far more for wide ones): a 2 000-job nightly run renders in
#: seconds instead of minutes, and its report stays a few MB
FAST_BOXES_ABOVE = 60


def latency_distribution_fast(title: str, jobs: list[JobRecord]) -> str | None:
    """The same box plot as :func:`latency_distribution`, hand-written SVG."""
    import numpy as np

    from .svgplot import Box, box_svg

    boxes = []
    for j in jobs:
        v = np.asarray([x * 1e3 for r in j.raw.get("latency_rounds", []) for x in r["values_s"]])
        if v.size:
            p5, p25, p50, p75, p95 = (float(q) for q in np.percentile(v, [5, 25, 50, 75, 95]))
            pruning = "" if j.pruning == "none" else f" {j.pruning}"
            boxes.append(Box(f"{j.board} {j.precision}{pruning} · {j.backend}", p5, p25, p50, p75, p95,
                             [float(x) for x in v[(v < p5) | (v > p95)]]))
    if not boxes:
        return None
    lo = min(b.p5 for b in boxes)
    hi = max(b.p95 for b in boxes)
    return str(box_svg(title, boxes, "latency per call (ms)", log=lo > 0 and hi / lo > 20))
