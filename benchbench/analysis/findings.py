"""The answer first: what a run's stored data supports, per board and model, in short sentences.

Each variant is set against its reference on the same board (fp32 at the same pruning; the unpruned job at
the same precision), as in :mod:`matrix`. A statement is made only where the data carries it:

* speed: the paired interleaved verdict of :func:`paired.paired_verdict` ("faster", "slower" or "no
  speed-up"); "unclear" and "not claimed: …" (not interleaved, contended, too few rounds) claim nothing;
* energy per inference and peak memory: only for pairs the speed verdict could judge (interleaved, not
  contended, enough rounds); energy: both measured, on the same sensor scope, neither job contended,
  and the two ``±`` intervals (the counter's quantisation, ``energy_uncertainty_j``) apart with at
  least ``MIN_EFFECT`` between them; without a recorded ``±`` the difference must exceed
  ``NO_UNCERTAINTY_EFFECT``;
* peak memory: one VmHWM reading per worker (no interval), so only a difference beyond ``MEM_EFFECT``;
* fidelity: the SQNR of the variant's worst output against the reference, as measured.

Everything else is said as "no claim" with the reason. What could not be measured at all (sensors,
not-applicable precisions, failed jobs) is listed with its reason. Pure: stored records in, sentences out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..results.records import BoardInfo, JobRecord
from .matrix import DENSE, REFERENCE_PRECISION, group_key, reference_precision
from .paired import MIN_EFFECT, MIN_PAIRS, contended, paired_verdict

NO_UNCERTAINTY_EFFECT = 0.10
MEM_EFFECT = 0.10
#: warning codes that qualify a verdict (the job's numbers are less trustworthy), shown beside it
_QUIET_CODES = frozenset({"info"})


@dataclass(frozen=True)
class VariantFinding:
    board: str
    workload: str
    params_key: str
    variant: str  # "int8" or "int8 · 50pct"
    reference: str
    claims: tuple[str, ...]  # statements the data supports
    no_claims: tuple[str, ...]  # comparisons made but not supported, each with why
    qualifiers: tuple[str, ...]  # quality warnings on either job
    reference_key: str  # job keys: the evidence rows
    variant_key: str

    @property
    def claimed(self) -> bool:
        return bool(self.claims)


@dataclass(frozen=True)
class Unmeasured:
    board: str
    what: str  # "power sensor hwmon (board_input)", "resnet18 int4", …
    why: str
    kind: str  # "sensor" | "not applicable" | "failed" | "metric"
    job_key: str | None = None


@dataclass(frozen=True)
class RunFindings:
    variants: tuple[VariantFinding, ...]
    unmeasured: tuple[Unmeasured, ...]


def _label(j: JobRecord) -> str:
    return j.precision if j.pruning == DENSE else f"{j.precision} · {j.pruning}"


def _ms(v: float) -> str:
    return f"{v * 1e3:.3g} ms" if v >= 1e-3 else f"{v * 1e6:.3g} µs"


def _energy_text(v: float) -> str:
    return f"{v * 1e3:.3g} mJ" if v < 1 else f"{v:.3g} J"


def energy_pm(j: JobRecord) -> float | None:
    """The ``±`` of the job's energy per inference: the counter's quantisation uncertainty over the energy
    window (agent's ``energy_uncertainty_j``) divided by the calls in it; None where none was recorded."""
    v = j.value("energy.per_inference")
    if v is None:
        return None
    for rep in j.details.get("energy") or []:
        n, e, u = rep.get("inferences"), rep.get("energy_j"), rep.get("energy_uncertainty_j")
        if n and e is not None and u is not None and math.isclose(e / n, v, rel_tol=1e-9):
            return float(u) / float(n)
    return None


def _speed(base: JobRecord, var: JobRecord) -> tuple[str | None, str | None, bool]:
    """(claim, no-claim, comparable for energy/memory): the paired verdict as a phrase."""
    b, v = base.value("latency.p50"), var.value("latency.p50")
    if not b or not v:
        return None, "speed: no claim (no median latency)", False
    pv = paired_verdict(base, var, MIN_EFFECT)
    r = pv.ratio or b / v
    vs = f"(median {_ms(v)} vs {_ms(b)}; {pv.test})" if pv.test else f"(median {_ms(v)} vs {_ms(b)})"
    if pv.verdict == "faster":
        return f"{r:.2f}× faster {vs}", None, True
    if pv.verdict == "slower":
        return f"{1 / r:.2f}× slower {vs}", None, True
    if pv.verdict == "no speed-up":
        return f"no speed-up: within ±{MIN_EFFECT:.0%} {vs}", None, True
    if pv.verdict == "unclear":  # rounds that disagree still make a fair pair; too few rounds do not
        why = pv.test or "the interleaved rounds disagree"
        return None, f"speed: no claim (unclear: {why})", len(pv.ratios) >= MIN_PAIRS
    # jobs not measured interleaved (or contended) claim no speed, and their energy/memory are no fairer
    return None, f"speed: no claim ({pv.verdict})", False


def _energy(base: JobRecord, var: JobRecord, comparable: bool) -> tuple[str | None, str | None]:
    mb, mv = base.metric("energy.per_inference"), var.metric("energy.per_inference")
    if mb is None or mv is None or mb.value is None or mv.value is None:
        missing = next((m.unavailable_reason for m in (mv, mb) if m is not None and m.unavailable_reason),
                       None)
        return None, "energy: not measured" + (f" ({missing})" if missing else "")
    if not comparable or contended(base) or contended(var):
        return None, "energy: no claim (not a fair pair: not interleaved or contended)"
    if mb.scope != mv.scope:
        return None, f"energy: no claim (different sensor scopes: {mb.scope} vs {mv.scope})"
    eb, ev = mb.value, mv.value
    ub, uv = energy_pm(base), energy_pm(var)
    rel = abs(ev - eb) / max(eb, ev)
    if ub is not None and uv is not None:
        if abs(ev - eb) <= ub + uv or rel < MIN_EFFECT:
            return None, "energy: no claim (the ± intervals overlap or differ by < 5 %)"
        basis = f"{_energy_text(ev)} ± {_energy_text(uv)} vs {_energy_text(eb)} ± {_energy_text(ub)}"
    else:
        if rel < NO_UNCERTAINTY_EFFECT:
            return None, ("energy: no claim (no ± recorded and the difference is below "
                          f"{NO_UNCERTAINTY_EFFECT:.0%})")
        basis = f"{_energy_text(ev)} vs {_energy_text(eb)}, no ± recorded"
    word = "less" if ev < eb else "more"
    return f"{abs(1 - ev / eb):.0%} {word} energy per inference ({basis}; {mv.scope})", None


def _memory(base: JobRecord, var: JobRecord, comparable: bool) -> tuple[str | None, str | None]:
    b, v = base.value("mem.peak_rss"), var.value("mem.peak_rss")
    if not b or not v:
        return None, "peak memory: not measured"
    if not comparable:
        return None, "peak memory: no claim (not a fair pair: not interleaved or contended)"
    if abs(v - b) / max(b, v) < MEM_EFFECT:
        return None, f"peak memory: no claim (within {MEM_EFFECT:.0%}; one reading per worker)"
    word = "lower" if v < b else "higher"
    return f"peak RSS {abs(1 - v / b):.0%} {word} ({v / 2**20:.0f} vs {b / 2**20:.0f} MiB)", None


def _fidelity(var: JobRecord) -> str | None:
    sq = var.metric("fidelity.sqnr_db")
    if sq is None or sq.value is None:
        return None
    val = "identical (∞ dB)" if math.isinf(sq.value) else f"{sq.value:.1f} dB"
    return f"worst-output SQNR {val}"


def _qualifiers(*jobs: JobRecord) -> tuple[str, ...]:
    out: list[str] = []
    for j in jobs:
        for w in j.warnings:
            if w.severity not in _QUIET_CODES:
                text = f"{_label(j)}: {w.code} — {w.message}"
                if text not in out:
                    out.append(text)
    return tuple(out)


def compare(base: JobRecord, var: JobRecord) -> VariantFinding:
    """One variant against its reference: every statement the data supports, and what it does not."""
    claims: list[str] = []
    no: list[str] = []
    speed, speed_no, comparable = _speed(base, var)
    for claim, why in ((speed, speed_no), _energy(base, var, comparable), _memory(base, var, comparable)):
        if claim:
            claims.append(claim)
        if why:
            no.append(why)
    fid = _fidelity(var)
    if fid and claims:  # a measured fact, shown beside the verdicts it qualifies
        claims.append(fid)
    elif fid:
        no.append(fid + " (measured; no verdict above to qualify)")
    pk = group_key(var)[2]
    return VariantFinding(board=var.board, workload=var.workload, params_key=pk, variant=_label(var),
                          reference=_label(base), claims=tuple(claims), no_claims=tuple(no),
                          qualifiers=_qualifiers(base, var), reference_key=base.job_key,
                          variant_key=var.job_key)


def variant_findings(jobs: Iterable[JobRecord]) -> list[VariantFinding]:
    """Every ok variant vs fp32 (same pruning) and vs unpruned (same precision), grouped as the matrix."""
    ok = [j for j in jobs if j.status == "ok" and j.value("latency.p50")]
    by = {group_key(j) + (j.precision, j.pruning): j for j in ok}
    out = []
    for j in ok:
        g = group_key(j)
        ref = reference_precision(j)
        if j.precision != ref and (base := by.get(g + (ref, j.pruning))):
            out.append(compare(base, j))
        if j.pruning != DENSE and (base := by.get(g + (j.precision, DENSE))):
            out.append(compare(base, j))
    out.sort(key=lambda f: (f.board, f.workload, f.params_key, f.reference != REFERENCE_PRECISION, f.variant))
    return out


def unmeasured(jobs: Sequence[JobRecord], boards: Iterable[BoardInfo]) -> list[Unmeasured]:
    """Sensors a board lacks, power/energy not measured, not-applicable precisions and failed jobs."""
    out: list[Unmeasured] = []
    for b in boards:
        for s in b.snapshot.get("sensors") or []:
            if not s.get("available") and s.get("quantity") in ("power", "energy"):
                scope = f" ({s['scope']})" if s.get("scope") else ""
                out.append(Unmeasured(b.board, f"{s.get('quantity')} sensor {s.get('family', '?')}{scope}",
                                      str(s.get("reason") or "unavailable"), "sensor"))
    seen: set[tuple[str, str]] = set()
    for j in jobs:
        m = j.metric("energy.per_inference")
        if (j.status == "ok" and m is not None and m.value is None
                and (j.board, m.unavailable_reason or "") not in seen):
            seen.add((j.board, m.unavailable_reason or ""))
            out.append(Unmeasured(j.board, "energy per inference", m.unavailable_reason or "not measured",
                                  "metric", j.job_key))
    for j in jobs:
        if j.status == "ok":
            continue
        kind = "not applicable" if j.status == "unsupported" else "failed"
        out.append(Unmeasured(j.board, f"{j.workload} {_label(j)} ({j.status})",
                              j.reason or "no reason recorded", kind, j.job_key))
    return out


def run_findings(jobs: Sequence[JobRecord], boards: Iterable[BoardInfo]) -> RunFindings:
    return RunFindings(tuple(variant_findings(jobs)), tuple(unmeasured(jobs, boards)))
