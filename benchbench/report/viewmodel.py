"""The report's view model: plain rows with already-formatted cells, built from a stored run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..analysis.quantstudy import compare_variants, summary_sentences
from ..results.records import JobRecord, Metric, RunData


@dataclass(frozen=True)
class Cell:
    text: str
    title: str | None = None  # tooltip: source, scope, method
    unavailable: bool = False
    note: int | None = None  # footnote number holding the unavailable reason or the sensor's label
    #: what the power/energy sensor covers ("PMIC rails, excludes 5 V loads"): shown as a footnote
    sensor_label: str | None = None
    scope: str | None = None  # power/energy: shown under the number, not inside it


@dataclass(frozen=True)
class Row:
    board: str
    workload: str
    params: str
    precision: str
    pruning: str
    backend: str
    status: str
    reason: str | None
    implementation: str
    timed_window: str
    cells: dict[str, Cell]
    warnings: list[str]
    job: JobRecord

    @property
    def anchor(self) -> str:
        return row_anchor(self.board, self.job.job_key)


@dataclass(frozen=True)
class ReportModel:
    title: str
    run: dict[str, Any]
    columns: list[tuple[str, str]]
    rows: list[Row]
    boards: list[dict[str, Any]]
    warnings: list[dict[str, str]]
    failures: list[Row]
    #: footnotes: why a cell is unavailable, what a sensor covers
    notes: list[str] = field(default_factory=list)
    #: "What was measured": model variants vs their dense fp32 baselines, in sentences
    findings: list[str] = field(default_factory=list)
    #: summary column groups: (group label, [(key, label)]), columns empty in every row left out
    groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


def row_anchor(board: str, job_key: str) -> str:
    """A stable id for a job's summary row (and ``d-`` + it for its details): findings link to it."""
    return "j" + hashlib.sha1(f"{board}\0{job_key}".encode()).hexdigest()[:10]


COLUMNS = [("latency.p50", "median"), ("latency.p90", "p90"), ("latency.p99", "p99"),
           ("latency.ci", "95 % CI of median"), ("throughput", "throughput"), ("items", "items/s"),
           ("mem.peak_rss", "peak RSS"), ("power.mean", "power"),
           ("energy.per_inference", "energy / inference"),
           ("temp.max", "max temp"), ("model.size", "model size"), ("fidelity", "fidelity SQNR / cos"),
           ("llm", "TTFT · decode tok/s")]


#: the summary's column groups, read across: what a job costs in time, work, memory, power, and accuracy
GROUPS = [("latency", ["latency.p50", "latency.p90", "latency.p99", "latency.ci"]),
          ("throughput", ["throughput", "items"]), ("memory", ["mem.peak_rss", "model.size"]),
          ("power and energy", ["power.mean", "energy.per_inference", "temp.max"]),
          ("fidelity", ["fidelity", "llm"])]
_TIME_COLS = ("latency.p50", "latency.p90", "latency.p99")
_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def time_unit(values: list[float], units: tuple[tuple[float, str], ...] = _TIME_UNITS) -> tuple[float, str]:
    """One unit for a column: the one that suits its median value."""
    med = statistics.median(values) if values else 1.0
    return next(((sc, u) for sc, u in units if med >= sc), units[-1])


def fmt_in(v: float, scale: float, unit: str) -> str:
    x = v / scale
    num = f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3g}"
    return f"{num} {unit}"


def fmt_seconds(v: float | None) -> str:
    if v is None:
        return "–"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v / 1e-9:.3g} ns"


def fmt_bytes(v: float | None) -> str:
    if v is None:
        return "–"
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if v >= scale:
            return f"{v / scale:.1f} {unit}"
    return f"{v:.0f} B"


def fmt_energy(v: float) -> str:
    return f"{v * 1e3:.3g} mJ" if v < 1 else f"{v:.3g} J"


def _metric_cell(m: Metric | None, fmt: Any, what: str = "not measured by this job's backend") -> Cell:
    if m is None:
        return Cell("–", title=what)
    if m.value is None:
        return Cell("unavailable", title=m.unavailable_reason or "not measured", unavailable=True)
    text = fmt(m.value)
    if m.scope:
        text += f" ({m.scope})"
    title = "; ".join(x for x in (f"scope: {m.scope}" if m.scope else None, m.source, m.detail) if x) or None
    return Cell(text, title=title)


def _cells(j: JobRecord) -> dict[str, Cell]:
    c: dict[str, Cell] = {}
    for name in ("latency.p50", "latency.p90", "latency.p99"):
        c[name] = _metric_cell(j.metric(name), fmt_seconds)
    lo, hi = j.value("latency.ci95_lo"), j.value("latency.ci95_hi")
    c["latency.ci"] = Cell(f"{fmt_seconds(lo)} – {fmt_seconds(hi)}", title="bootstrap, 2000 resamples") \
        if lo is not None and hi is not None else Cell("–")
    ops = j.metric("throughput.ops")
    bw = j.metric("throughput.bandwidth")
    parts = [f"{m.value:.3g} {m.unit}" for m in (ops, bw) if m is not None and m.value is not None]
    c["throughput"] = Cell(" · ".join(parts), title="at median latency") if parts else \
        Cell("–", title="no operation or byte count for this workload")
    c["items"] = _metric_cell(j.metric("throughput.items"), lambda v: f"{v:.4g}")
    c["mem.peak_rss"] = _metric_cell(j.metric("mem.peak_rss"), fmt_bytes)
    for name, fmt in (("power.mean", lambda v: f"{v:.3g} W"), ("energy.per_inference", fmt_energy)):
        m = j.metric(name)
        cell = _metric_cell(m, fmt)
        # short hover (scope · sensor); the method is in the details
        if m is not None and m.value is not None:
            label = _sensor_label(j, m)
            cell = Cell(fmt(m.value), title=f"{label or m.scope or 'scope not recorded'} · {m.source or '?'}",
                        sensor_label=label, scope=m.scope)
        c[name] = cell
    c["temp.max"] = _metric_cell(j.metric("temp.max"), lambda v: f"{v:.1f} °C")
    c["model.size"] = _metric_cell(j.metric("model.size"), fmt_bytes, "not a model workload")
    cos, sqnr = j.value("fidelity.cosine"), j.value("fidelity.sqnr_db")
    fid = f"{sqnr:.1f} dB".replace("inf dB", "∞ (identical)") if sqnr is not None else "–"
    c["fidelity"] = Cell(fid + (f" / {cos:.4f}" if cos is not None else " / n/a"),
                         title=((j.metric("fidelity.sqnr_db") or Metric("", None, "")).detail or "")
                         + ("" if cos is not None else "; cosine n/a: fewer than 16 elements per sample")) \
        if sqnr is not None else Cell("–", title="no fidelity check: not a model variant")
    ppl, top1 = j.metric("fidelity.perplexity_ratio"), j.value("fidelity.top1_agreement")
    if sqnr is None and ppl is not None and ppl.value is not None:  # a GGUF type vs f16 (no SQNR for logits)
        c["fidelity"] = Cell((f"top-1 {top1:.3f} · " if top1 is not None else "") + f"ppl ×{ppl.value:.3f}"
                             + (" EXPLODED" if "EXPLODED" in (ppl.detail or "") else ""), title=ppl.detail)
    ttft, dec, pp = j.value("llm.ttft"), j.value("llm.decode_tps"), j.value("llm.prefill_tps")
    c["llm"] = Cell(f"{fmt_seconds(ttft)} · {dec:.4g}" if j.backend != "llama.cpp" or pp is None else
                    f"{fmt_seconds(ttft)} · pp {pp:.4g} · tg {dec:.4g}", title="medians over generations") \
        if ttft is not None and dec is not None else Cell("–", title="not a decoder workload")
    return c


def _unify_units(rows: list[Row]) -> None:
    """Latency, energy and memory columns in one unit each (the one that suits the column's median), so a
    column reads down without comparing "980 µs" with "1.2 ms"."""
    for key, units in _UNIFY.items():
        vals = [v for r in rows if (v := r.job.value(key)) is not None]
        scale, unit = time_unit(vals, units)
        for r in rows:
            v = r.job.value(key)
            if v is not None:
                r.cells[key] = dataclasses.replace(r.cells[key], text=fmt_in(v, scale, unit))
            lo, hi = r.job.value("latency.ci95_lo"), r.job.value("latency.ci95_hi")
            if key == "latency.p50" and lo is not None and hi is not None:
                r.cells["latency.ci"] = dataclasses.replace(
                    r.cells["latency.ci"],
                    text=f"{fmt_in(lo, scale, unit).split()[0]}–{fmt_in(hi, scale, unit)}")


_UNIFY: dict[str, tuple[tuple[float, str], ...]] = {
    **{k: _TIME_UNITS for k in _TIME_COLS},
    "energy.per_inference": ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")),
    "mem.peak_rss": ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B")),
    "model.size": ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))}


def _groups(rows: list[Row]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The column groups without the columns that are "–" in every row (kernels have no fidelity …)."""
    labels = dict(COLUMNS)
    out = []
    for g, keys in GROUPS:
        kept = [(k, labels[k]) for k in keys if any(r.cells[k].text != "–" for r in rows)]
        if kept:
            out.append((g, kept))
    return out or [("latency", [("latency.p50", labels["latency.p50"])])]


def _sensor_label(j: JobRecord, m: Metric | None) -> str | None:
    """The label of the sensor a measured power/energy metric came from (scope alone does not say it)."""
    if m is None or m.value is None:
        return None
    for c in (j.details.get("sensors") or {}).get("channels", []):
        ch = c.get("channel") or {}
        if ch.get("source") == m.source and ch.get("scope") == m.scope and ch.get("label"):
            return f"{m.scope}: {ch['label']}"
    return None


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())
                     if v is not None and k not in ("input_shapes", "decode_artifact", "inputs_npz"))


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "–"


def _footnote(cells: dict[str, Cell], notes: list[str]) -> dict[str, Cell]:
    """Replace long, repeated 'unavailable' reasons and power sensor labels by numbered footnotes."""
    out = {}
    for k, c in cells.items():
        text = f"unavailable: {c.title}" if c.unavailable and c.title else c.sensor_label
        if text:
            if text not in notes:
                notes.append(text)
            c = dataclasses.replace(c, note=notes.index(text) + 1)
        out[k] = c
    return out


def build(run: RunData) -> ReportModel:
    rows: list[Row] = []
    notes: list[str] = []
    warnings: list[dict[str, str]] = []
    def order(j: JobRecord) -> tuple[str, str, str, str, str]:
        return j.board, j.workload, _params_text(j.params), j.precision, j.backend

    for j in sorted(run.jobs, key=order):
        row = Row(board=j.board, workload=j.workload, params=_params_text(j.params), precision=j.precision,
                  pruning=j.pruning, backend=j.backend, status=j.status, reason=j.reason,
                  implementation=j.implementation or "–", timed_window=j.timed_window or "–",
                  cells=_footnote(_cells(j), notes),
                  warnings=[w.message for w in j.warnings], job=j)
        rows.append(row)
        for w in j.warnings:
            warnings.append({"where": f"{j.board} · {j.workload} · {j.precision} ({j.backend})",
                             "code": w.code, "message": w.message, "remedy": w.remedy,
                             "severity": w.severity})
    boards = []
    for b in run.boards:
        snap = b.snapshot
        sensors = snap.get("sensors", [])
        boards.append({"name": b.board, "status": b.status, "reason": b.reason, "snapshot": snap,
                       "overhead": b.overhead, "sensors_ok": [s for s in sensors if s.get("available")],
                       "sensors_missing": [s for s in sensors if not s.get("available")]})
        ov = b.overhead or {}
        if ov.get("overhead_pct") is not None and ov["overhead_pct"] > 1.0:
            warnings.append({"where": b.board, "code": "sampling-overhead", "severity": "warning",
                             "message": "sensor sampling slowed the probe kernel by "
                                        f"{ov['overhead_pct']:.1f} %",
                             "remedy": "raise sampling interval_s, or accept and compare runs with equal "
                                       "settings"})
    if run.info.status == "interrupted":
        warnings.insert(0, {"where": "run", "code": "interrupted", "severity": "error",
                            "message": "the run was interrupted; only finished jobs are shown",
                            "remedy": "re-run, or resume the run"})
    ok = [r for r in rows if r.status == "ok"]
    _unify_units(ok)
    groups = _groups(ok)
    info = run.info
    return ReportModel(
        title=f"benchbench report — {info.suite_name} — {info.run_id}",
        run={"id": info.run_id, "suite": info.suite_name, "suite_file": info.suite_file,
             "status": info.status, "started": _when(info.started_at), "finished": _when(info.finished_at),
             "version": info.tool_version,
             "controller": info.controller, "n_jobs": len(run.jobs)},
        columns=[c for _, cols in groups for c in cols], rows=ok, boards=boards, warnings=warnings,
        groups=groups,
        failures=[r for r in rows if r.status != "ok"], notes=notes,
        findings=summary_sentences(compare_variants(run.jobs)))
