"""The run report's latency distributions: one box plot per model, drawn by :func:`svgplot.box_svg`
(hand-written SVG, ~1 ms per figure; matplotlib took ~0.3 s). One drawing for a 3-job report and a 2 000-job
one."""

from __future__ import annotations

import numpy as np
from markupsafe import Markup

from ..results.records import JobRecord
from .svgplot import Box, box_svg


def latency_distribution(title: str, jobs: list[JobRecord]) -> Markup | None:
    """Box plot of every raw latency value per job (log scale when the spread is wide), None without any."""
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
    return box_svg(title, boxes, "latency per call (ms)", log=lo > 0 and hi / lo > 20)
