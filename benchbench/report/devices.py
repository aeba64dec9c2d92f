"""The site's cross-device page: per model (workload and parameters) × precision × pruning, the boards side by
side, each with its latest successful measurement (median latency, energy per inference, peak memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..analysis.compare import JobSample
from ..analysis.history import RunRef
from .viewmodel import fmt_bytes, fmt_energy, fmt_seconds


def _params(pk: str) -> str:
    return pk.strip("{}").replace('"', "").replace(":", "=").replace(",", ", ")


def devices_view(entries: Sequence[tuple[RunRef, JobSample]],
                 run_href: dict[str, str]) -> list[dict[str, Any]]:
    """One table per (workload, params): a row per precision · pruning, a column per board. ``entries`` are
    oldest first (as :func:`sitedata.history_entries` returns them), so the last one per key is the latest."""
    latest: dict[tuple[str, str, str, str, str], tuple[RunRef, JobSample]] = {}
    for ref, s in entries:
        if s.status == "ok" and s.metrics.get("latency.p50"):
            k = s.key
            latest[(k.workload, k.params_key, k.precision, k.pruning, k.board)] = (ref, s)
    groups: dict[tuple[str, str], dict[tuple[str, str], dict[str, tuple[RunRef, JobSample]]]] = {}
    for (workload, pk, precision, pruning, board), e in latest.items():
        groups.setdefault((workload, pk), {}).setdefault((precision, pruning), {})[board] = e
    out = []
    for (workload, pk), variants in sorted(groups.items()):
        boards = sorted({b for per in variants.values() for b in per})
        rows = []
        for (precision, pruning), per in sorted(variants.items(), key=lambda v: (v[0][1] != "none", v[0])):
            cells: list[dict[str, Any]] = []
            fastest = min(x[1].metrics.get("latency.p50") or float("inf") for x in per.values())
            for b in boards:
                if b not in per:
                    cells.append({"text": "–"})
                    continue
                ref, s = per[b]
                p50 = s.metrics.get("latency.p50")
                energy, mem = s.metrics.get("energy.per_inference"), s.metrics.get("mem.peak_rss")
                cells.append({"text": fmt_seconds(p50), "best": p50 == fastest and len(per) > 1,
                              "sub": " · ".join(x for x in (fmt_energy(energy) if energy else "",
                                                            fmt_bytes(mem) if mem else "") if x),
                              "run": ref.run_id, "href": run_href.get(ref.run_id, "")})
            rows.append({"variant": precision if pruning == "none" else f"{precision} · {pruning}",
                         "cells": cells})
        out.append({"workload": workload, "params": _params(pk), "boards": boards, "rows": rows})
    return out
