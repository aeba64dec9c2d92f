"""The run report's analysis views, formatted: device × precision × pruning matrix, Pareto plots per board,
roofline position of kernels, and the environment differences between the run's boards. Numbers come
from :mod:`benchbench.analysis.matrix`; this module only formats them and draws the figures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ..analysis.envdiff import differing_paths
from ..analysis.matrix import MatrixRow, Peaks, build_matrix, pareto_groups, roofline_points
from ..results.records import RunData
from .modelsview import models_view
from .svgscatter import ParetoPoint, RoofPoint, pareto_svg, roofline_svg
from .viewmodel import fmt_bytes, fmt_energy, fmt_seconds

NO_PROFILE = "no device profile recorded for this board (run stored before profiles were recorded)"
NO_PEAKS = "peaks not recorded with this run"  # stored before snapshots kept the profile's peaks


def board_peaks(run: RunData) -> dict[str, Peaks | str]:
    """Each board's roofline peaks as the run recorded them from its device profile (snapshot key
    ``roofline``, ``config.profiles.snapshot_facts``), or why there are none. Nothing is read from device
    YAML now: the report depends on the store alone."""
    out: dict[str, Peaks | str] = {}
    for b in run.boards:
        name = b.snapshot.get("profile")
        roof = b.snapshot.get("roofline")
        if not name:
            out[b.board] = NO_PROFILE
        elif not isinstance(roof, dict):
            out[b.board] = NO_PEAKS
        elif not roof.get("compute") and roof.get("bandwidth") is None:
            out[b.board] = f"no peak in profile {name}"
        else:
            compute, bandwidth = roof.get("compute") or {}, roof.get("bandwidth")
            sources = [f"{k}: {p['source']}" for k, p in sorted(compute.items())]
            if bandwidth is not None:
                sources.append(f"bandwidth: {bandwidth['source']}")
            out[b.board] = Peaks({k: float(p["value"]) for k, p in compute.items()},
                                 float(bandwidth["value"]) if bandwidth is not None else None,
                                 f"profile {name}; " + "; ".join(sources))
    return out


def _x(v: float | None) -> str:
    return f"×{v:.2f}" if v is not None else "–"


def _sp(v: float | None, claim: str | None) -> str:
    """A speed-up with what it may claim: a bare ratio only when the paired rounds agree (or say no
    change)."""
    if v is None:
        return "–"
    if claim is None or claim in ("faster", "slower", "no speed-up"):
        return _x(v)
    return f"{_x(v)} ({claim})"


def _variant(r: MatrixRow) -> str:
    return r.precision if r.pruning == "none" else f"{r.precision} · {r.pruning}"


def matrix_view(rows: Sequence[MatrixRow]) -> list[dict[str, Any]]:
    """Per (model, params): a grid, boards down, precision × pruning across; each cell the median latency and
    its speed-up vs fp32, the rest of the row's numbers in its tooltip; plus the long table's rows."""
    groups: dict[tuple[str, str], list[MatrixRow]] = {}
    for r in rows:
        groups.setdefault((r.workload, r.params_key), []).append(r)
    out = []
    for (workload, pk), members in sorted(groups.items()):
        variants = sorted({(r.precision, r.pruning) for r in members},
                          key=lambda v: (v[1] != "none", v[1], v[0] != "fp32", v[0]))
        boards = sorted({r.board for r in members})
        cell: dict[tuple[str, str, str], MatrixRow] = {(r.board, r.precision, r.pruning): r for r in members}
        grid = []
        for b in boards:
            cells = []
            for v in variants:
                found = cell.get((b, v[0], v[1]))
                if found is None:
                    cells.append({"text": "–", "title": ""})
                    continue
                r = found
                sp = ([f"{_x(r.speedup_vs_fp32)} vs fp32 ({r.claim_vs_fp32})"]
                      if r.speedup_vs_fp32 is not None else [])
                sp += ([f"{_x(r.speedup_vs_dense)} vs unpruned ({r.claim_vs_dense})"]
                       if r.speedup_vs_dense is not None else [])
                cells.append({"text": fmt_seconds(r.p50_s) + (f" {_sp(r.speedup_vs_fp32, r.claim_vs_fp32)}"
                                                              if r.speedup_vs_fp32 else ""),

                              "title": "; ".join(sp)})
            grid.append({"board": b, "cells": cells})
        out.append({"workload": workload, "params": _params(pk),
                    "variants": [" · ".join(x for x in v if x != "none") for v in variants],
                    "grid": grid, "rows": [_long_row(r) for r in members]})
    return out


def _params(pk: str) -> str:
    """The params key (sorted compact JSON) as ``k=v, …``."""
    if not pk:
        return ""
    try:
        return ", ".join(f"{k}={v}" for k, v in json.loads(pk).items())
    except ValueError:
        return pk


def _long_row(r: MatrixRow) -> list[str]:
    fid = _fid_text(r)
    items = f"{r.items_per_s:.4g}" if r.items_per_s is not None else "–"
    return [r.board, _variant(r), fmt_seconds(r.p50_s), fmt_seconds(r.p99_s), items,
            fmt_energy(r.energy_j) if r.energy_j is not None else "–", fmt_bytes(r.mem_peak_bytes), fid,
            fmt_bytes(r.size_bytes), _sp(r.speedup_vs_fp32, r.claim_vs_fp32),
            _sp(r.speedup_vs_dense, r.claim_vs_dense)]


def _fid_text(r: MatrixRow) -> str:
    """SQNR of the worst output first (what ranks variants), cosine / top-1 beside it where they mean
    something."""
    if r.sqnr_db is None:
        return "reference" if r.fidelity == math.inf else "–"
    text = "∞ dB (identical)" if math.isinf(r.sqnr_db) else f"{r.sqnr_db:.1f} dB"
    extra = [f"cos {r.cosine:.4f}"] if r.cosine is not None else []
    extra += [f"top-1 {r.top1:.3f}"] if r.top1 is not None else []
    return text + (f" ({', '.join(extra)})" if extra else "")


def pareto_view(rows: Sequence[MatrixRow]) -> list[dict[str, Any]]:
    """Per board, per model with at least two variants that have a fidelity: the figure and its table."""
    out = []
    for g in pareto_groups(rows):
        pts = [ParetoPoint(_variant(r), (r.p50_s or 0.0) * 1e3, r.fidelity or 0.0,
                           r.energy_j * 1e3 if r.energy_j is not None else None, opt)
               for r, opt in zip(g.rows, g.optimal)]
        title = f"{g.board} · {g.workload}" + (f" [{_params(g.params_key)}]" if g.params_key else "")
        out.append({"board": g.board, "title": title, "svg": pareto_svg(title, pts),
                    "has_energy": g.has_energy,
                    "rows": [{"variant": _variant(r), "p50": fmt_seconds(r.p50_s),
                              "fidelity": _fid_text(r),
                              "measure": "SQNR of the worst output" if r.sqnr_db is not None else "reference",
                              "energy": fmt_energy(r.energy_j) if r.energy_j is not None else "unavailable",
                              "optimal": opt} for r, opt in zip(g.rows, g.optimal)],
                    "missing": [_variant(r) for r in g.missing]})
    return out


def _gunit(unit: str | None) -> str:
    return f"G{unit or 'FLOP'}/s"


def roofline_view(run: RunData, peaks: dict[str, Peaks | str]) -> list[dict[str, Any]]:
    """Per board with kernels: table of achieved vs peak, and a roofline figure where both peaks exist."""
    pts = roofline_points(run.jobs, peaks)
    boards: dict[str, list[Any]] = {}
    for p in pts:
        boards.setdefault(p.board, []).append(p)
    out = []
    for board, group in sorted(boards.items()):
        pk = peaks.get(board, NO_PROFILE)
        rows = [{"workload": p.workload, "params": _params(p.params_key), "precision": p.precision,
                 "backend": p.backend,
                 "ops": f"{p.ops_per_s / 1e9:.4g} {_gunit(p.ops_unit)}" if p.ops_per_s is not None else "–",
                 "pct_ops": f"{p.pct_compute:.1f} % of {p.peak_key}" if p.pct_compute is not None else "–",
                 "bw": f"{p.bytes_per_s / 1e9:.4g} GB/s" if p.bytes_per_s is not None else "–",
                 "pct_bw": f"{p.pct_bandwidth:.1f} %" if p.pct_bandwidth is not None else "–",
                 "intensity": f"{p.intensity:.3g}" if p.intensity is not None else "–",
                 "note": p.note or ""} for p in group]
        svgs = []
        placed = [p for p in group if p.intensity and p.ops_per_s and p.peak_ops_per_s and p.peak_bytes_per_s]
        by_peak: dict[tuple[float, float, str], list[Any]] = {}
        for p in placed:
            by_peak.setdefault((p.peak_ops_per_s, p.peak_bytes_per_s, p.ops_unit or "FLOP"), []).append(p)
        for (po, pb, unit), ps in sorted(by_peak.items()):
            svgs.append(roofline_svg(f"{board} · roofline ({ps[0].peak_key})", unit, po, pb,
                                     [RoofPoint(f"{p.workload} {p.precision}", p.intensity or 1.0,
                                                p.ops_per_s or 0.0) for p in ps]))
        out.append({"board": board, "rows": rows, "svgs": svgs,
                    "peaks": pk.source if isinstance(pk, Peaks) else pk})
    return out


def envdiff_view(run: RunData) -> list[dict[str, Any]]:
    """Relevant environment settings that differ between the run's boards (kernel, runtimes, governors …)."""
    if len(run.boards) < 2:
        return []
    envs = {b.board: b.snapshot for b in sorted(run.boards, key=lambda b: b.board)}
    return [{"path": path, "cells": [str(values[b]) for b in envs]} for path, values in differing_paths(envs)]


def build_views(run: RunData) -> dict[str, Any]:
    rows = build_matrix(run.jobs)
    return {"matrix": matrix_view(rows), "pareto": pareto_view(rows), "models": models_view(run),
            "roofline": roofline_view(run, board_peaks(run)),
            "envdiff": envdiff_view(run), "envdiff_boards": sorted(b.board for b in run.boards)}
