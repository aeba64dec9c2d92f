"""Is variant B faster than A? Only measured interleaved rounds can say (issue #9 item 6).

The agent runs the variants of one model round-robin (round i of A, round i of B, round i+1 of A, …), so a
change of background load between jobs hits both. The statistic is the per-round ratio ``median(round i of
A) / median(round i of B)`` (> 1: B is faster); a claim needs those paired ratios to agree:

* at least ``MIN_PAIRS`` paired rounds;
* with fewer than ``WILCOXON_MIN`` pairs, every paired ratio beyond ``MIN_EFFECT`` on the same side;
* with more, the exact Wilcoxon signed-rank test on the per-round log-ratios at ``ALPHA``, and the median
  paired ratio beyond ``MIN_EFFECT``.

No claim for jobs that were not interleaved with each other ("not claimed: not interleaved") or that the
agent marked as measured under CPU contention ("not claimed: contended"). Pure: job records in.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from ..results.records import JobRecord

MIN_EFFECT = 0.05
MIN_PAIRS = 3
WILCOXON_MIN = 6
ALPHA = 0.05
CLAIMS = ("faster", "slower")


@dataclass(frozen=True)
class PairedVerdict:
    #: baseline / variant latency (> 1: the variant is faster): median paired ratio, else ratio of medians
    ratio: float | None
    #: "faster", "slower", "no speed-up", "unclear", or "not claimed: <why>"
    verdict: str
    ratios: tuple[float, ...] = ()
    p_value: float | None = None
    test: str = ""

    @property
    def claimed(self) -> bool:
        return self.verdict in CLAIMS


def _round_medians(j: JobRecord, other: JobRecord) -> list[float]:
    """Per-round medians of ``j`` measured alongside ``other``. A group larger than the agent's live-worker
    cap runs in chunks, its reference in every chunk with one set of rounds per chunk (``chunk_rounds``):
    only the chunk ``other`` was in pairs with it, round for round."""
    rounds: list[dict[str, Any]] = j.raw.get("latency_rounds") or []
    for c in (j.details.get("interleave") or {}).get("chunk_rounds") or ():
        if other.job_key in (c.get("partners") or ()):
            rounds = rounds[c["first_round"]:c["first_round"] + c["rounds"]]
            break
    return [statistics.median(r["values_s"]) for r in rounds if r.get("values_s")]


def interleaved_with(a: JobRecord, b: JobRecord) -> bool:
    ia, ib = a.details.get("interleave") or {}, b.details.get("interleave") or {}
    return (a.run_id == b.run_id and a.board == b.board and bool(ia.get("group"))
            and ia.get("group") == ib.get("group") and b.job_key in (ia.get("partners") or ()))


def contended(j: JobRecord) -> bool:
    return bool((j.details.get("contention") or {}).get("contended"))


def paired_verdict(base: JobRecord, var: JobRecord, min_effect: float = MIN_EFFECT) -> PairedVerdict:
    b50, v50 = base.value("latency.p50"), var.value("latency.p50")
    plain = b50 / v50 if b50 and v50 else None
    if not interleaved_with(base, var):
        return PairedVerdict(plain, "not claimed: not interleaved")
    b, v = _round_medians(base, var), _round_medians(var, base)
    n = min(len(b), len(v))
    ratios = tuple(b[i] / v[i] for i in range(n) if b[i] > 0 and v[i] > 0)
    if not ratios:
        return PairedVerdict(plain, "not claimed: no paired rounds")
    med = statistics.median(ratios)
    who = [x for x, j in (("baseline", base), ("variant", var)) if contended(j)]
    if who:
        return PairedVerdict(med, f"not claimed: contended ({' and '.join(who)})", ratios)
    if len(ratios) < MIN_PAIRS:
        return PairedVerdict(med, "unclear", ratios, test=f"only {len(ratios)} paired rounds (< {MIN_PAIRS})")
    lo, hi = 1 / (1 + min_effect), 1 + min_effect
    if lo < med < hi:
        return PairedVerdict(med, "no speed-up", ratios, test="median paired ratio within ±5 %")
    direction = "faster" if med > 1 else "slower"
    if len(ratios) < WILCOXON_MIN:
        agree = all(r >= hi for r in ratios) if med > 1 else all(r <= lo for r in ratios)
        p = 2 * 0.5 ** len(ratios) if agree else None  # two-sided sign test when every pair agrees
        return PairedVerdict(med, direction if agree else "unclear", ratios, p,
                             f"every one of {len(ratios)} paired rounds beyond ±5 % on one side")
    logs = [math.log(r) for r in ratios]
    p = float(sps.wilcoxon(logs, method="exact" if len(logs) <= 50 else "approx").pvalue)
    return PairedVerdict(med, direction if p < ALPHA else "unclear", ratios, p,
                         f"Wilcoxon signed-rank on {len(ratios)} paired log-ratios, p={p:.3g}")
