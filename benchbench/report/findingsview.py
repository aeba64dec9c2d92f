"""The report's "Findings" block: :mod:`benchbench.analysis.findings` grouped per board and model, each line
linked to the summary rows (and the bar chart) that hold its evidence. Comparisons with nothing to claim
are folded into one line per reason, so a 2 000-job run without interleaving stays a few lines long."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from ..analysis.findings import RunFindings, VariantFinding
from .viewmodel import row_anchor

#: no-claim comparisons named per reason before "and N more"
_EXAMPLES = 6
#: findings lines shown open; the rest behind "more" so the summary's power columns stay on the first screen
_FIRST_LINES = 6


def group_anchor(board: str, workload: str, params_key: str) -> str:
    """Id of a board × model's bar chart (the findings link to it)."""
    return "g" + hashlib.sha1(f"{board}\0{workload}\0{params_key}".encode()).hexdigest()[:10]


def params_text(pk: str) -> str:
    try:
        d = json.loads(pk) if pk else {}
    except ValueError:
        return pk
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "backend" and v is not None)


def _line(f: VariantFinding) -> dict[str, Any]:
    return {"variant": f.variant, "reference": f.reference, "claims": list(f.claims),
            "no_claims": [n for n in f.no_claims if not n.startswith("speed: no claim")],
            "qualifiers": list(f.qualifiers),
            "ref_href": "#" + row_anchor(f.board, f.reference_key),
            "var_href": "#" + row_anchor(f.board, f.variant_key)}


def _speed_reason(f: VariantFinding) -> str:
    for n in f.no_claims:
        if n.startswith("speed: no claim"):
            rest = n[len("speed: no claim"):].strip()
            return rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest
    return "nothing measured supports a verdict"


def findings_view(rf: RunFindings) -> dict[str, Any]:
    """``groups``: per board × model the supported lines; ``unclaimed``: a line per reason; ``unmeasured``."""
    groups: dict[tuple[str, str, str], list[VariantFinding]] = defaultdict(list)
    unclaimed: dict[str, list[VariantFinding]] = defaultdict(list)
    for f in rf.variants:
        if f.claimed:
            groups[(f.board, f.workload, f.params_key)].append(f)
        else:
            unclaimed[_speed_reason(f)].append(f)
    out_groups = []
    for (board, workload, pk), fs in sorted(groups.items()):
        backend = (json.loads(pk) if pk.startswith("{") else {}).get("backend", "")
        out_groups.append({"board": board, "workload": workload, "params": params_text(pk),
                           "backend": backend, "href": "#" + group_anchor(board, workload, pk),
                           "lines": [_line(f) for f in fs]})
    out_unclaimed = []
    for why, fs in sorted(unclaimed.items(), key=lambda kv: -len(kv[1])):
        ex = [{"text": f"{f.board} · {f.workload} {f.variant} vs {f.reference}",
               "href": "#" + row_anchor(f.board, f.variant_key)} for f in fs[:_EXAMPLES]]
        out_unclaimed.append({"why": why, "n": len(fs), "examples": ex, "more": max(0, len(fs) - _EXAMPLES)})
    unmeasured = [{"board": u.board, "what": u.what, "why": u.why, "kind": u.kind,
                   "href": "#failures" if u.kind in ("failed", "not applicable")
                   else ("#" + row_anchor(u.board, u.job_key) if u.job_key else "#environment")}
                  for u in rf.unmeasured]
    shown, lines = 0, 0
    for g in out_groups:  # the first screenful: whole groups until about six lines are shown
        if shown and lines + len(g["lines"]) > _FIRST_LINES:
            break
        shown, lines = shown + 1, lines + len(g["lines"])
    return {"groups": out_groups, "shown": shown, "unclaimed": out_unclaimed, "unmeasured": unmeasured,
            "n_claimed": sum(len(g["lines"]) for g in out_groups), "n_compared": len(rf.variants)}
