"""Realistic stored results for tests and benchmarks: job records shaped like ``benchbench.ingest`` makes
them (latency stats from raw rounds, throughput, memory, power/energy with scope and source, temperature),
written through the Store API, or in bulk straight into the schema tables for 100 000-row stores."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from benchbench.analysis.stats import LatencyStats, latency_stats
from benchbench.results import schema as s
from benchbench.results.records import JobRecord, Metric, Warning_
from benchbench.results.store import Store, _dumps, pack

SNAPSHOT = {"hostname": "pi5-a", "os": "Debian 12", "kernel": "6.6.51", "arch": "aarch64", "cpu_count": 4,
            "cpu_model": "Cortex-A76", "governors": {"cpu0": "performance"}, "python": {"version": "3.11.2"},
            "libraries": {"onnxruntime": "1.20.1", "numpy": "1.26.4"}, "env": {"OMP_NUM_THREADS": "4"},
            "sensors": [{"name": "pmic.total", "quantity": "power", "unit": "W", "scope": "rails_sum",
                         "source": "vcgencmd pmic_read_adc", "available": True},
                        {"family": "hwmon", "quantity": "power", "scope": "board_input", "available": False,
                         "reason": "no INA2xx on this board"}]}


@dataclass(frozen=True)
class JobSpec:
    board: str
    workload: str
    precision: str
    pruning: str = "none"
    params: tuple[tuple[str, int], ...] = (("batch", 1),)
    level_s: float = 5e-3  # median latency
    status: str = "ok"

    @property
    def job_key(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.workload}[{extra}]/{self.precision}/{self.pruning}"


def job_record(run_id: str, spec: JobSpec, rng: np.random.Generator, *, noise: float = 0.03,
               rounds: int = 3, per_round: int = 20, throttled: bool = False,
               exact_stats: bool = True) -> JobRecord:
    if spec.status != "ok":
        return JobRecord(run_id=run_id, board=spec.board, job_key=spec.job_key, workload=spec.workload,
                         backend="onnxruntime", precision=spec.precision, pruning=spec.pruning,
                         params=dict(spec.params), status=spec.status,
                         reason="int8 kernel not supported by EP",
                         stderr_tail="RuntimeError: <unsupported> & friends")
    vals = spec.level_s * np.exp(noise * rng.standard_normal(rounds * per_round))
    st = latency_stats(vals.tolist()) if exact_stats else _quick_stats(vals)
    metrics = [Metric(f"latency.{k[:-2]}", v, "s", source="timing engine", detail="session.run")
               for k, v in st.to_dict().items() if k != "n"]
    power_w = 4.0 + rng.uniform(0, 2)
    metrics += [Metric("latency.n", float(st.n), "values", source="timing engine",
                       detail="10 calls per value"),
                Metric("throughput.items", 1.0 / st.p50_s, "inference/s", detail="at median latency"),
                Metric("mem.peak_rss", float(rng.integers(80, 400) * 2**20), "bytes", source="getrusage"),
                Metric("power.mean", power_w, "W", "rails_sum", "vcgencmd pmic_read_adc",
                       "trapezoid; 50.0 Hz"),
                Metric("energy.per_inference", power_w * st.p50_s, "J", "rails_sum", "vcgencmd pmic_read_adc",
                       "trapezoid over timed windows"),
                Metric("temp.max", 45 + 20 * rng.random(), "C",
                       source="/sys/class/thermal/thermal_zone0/temp"),
                Metric("clock.mean", None, "MHz",
                       unavailable_reason="cpufreq not readable in this container")]
    n = per_round
    return JobRecord(
        run_id=run_id, board=spec.board, job_key=spec.job_key, workload=spec.workload, backend="onnxruntime",
        precision=spec.precision, pruning=spec.pruning, params=dict(spec.params), status="ok",
        implementation="onnxruntime CPUExecutionProvider", timed_window="session.run (inputs pre-bound)",
        started_at=time.time(), duration_s=2.5, work={"items_per_call": 1.0, "item_unit": "inference"},
        env={"OMP_NUM_THREADS": "4"},
        details={"timing": {"number": 10, "warmup_iters": 50, "warmup_s": 0.2,
                            "timer": {"resolution_ns": 1, "call_cost_ns": 45.0}},
                 "extra": {"providers_used": ["CPUExecutionProvider"]}, "memory": {"method": "getrusage"},
                 "throttle": {"throttled": throttled, "evidence": ["soft temp limit"] if throttled else []}},
        metrics=tuple(metrics),
        warnings=(Warning_("noisy", "spread 6 % between rounds", "pin the CPU governor", "warning"),)
        if rng.random() < 0.1 else (),
        raw={"latency_rounds": [{"values_s": vals[i * n:(i + 1) * n].tolist()} for i in range(rounds)]})


def _quick_stats(v: np.ndarray) -> LatencyStats:
    """The same fields as latency_stats without its bootstrap CI (order-statistic CI instead): bulk
    stores of 100 000 jobs would otherwise spend minutes resampling."""
    q = np.percentile(v, [0, 50, 90, 95, 99, 100])
    srt = np.sort(v)
    half = int(1.96 * np.sqrt(v.size) / 2)
    mid = v.size // 2
    return LatencyStats(n=int(v.size), min_s=float(q[0]), p50_s=float(q[1]), p90_s=float(q[2]),
                        p95_s=float(q[3]), p99_s=float(q[4]), max_s=float(q[5]), mean_s=float(v.mean()),
                        sd_s=float(v.std(ddof=1)), ci95_lo_s=float(srt[max(0, mid - half)]),
                        ci95_hi_s=float(srt[min(v.size - 1, mid + half)]))


def matrix(boards: Sequence[str], workloads: Sequence[str], precisions: Sequence[str],
           prunings: Sequence[str] = ("none",)) -> list[JobSpec]:
    out = []
    for bi, b in enumerate(boards):
        for wi, w in enumerate(workloads):
            for pi, p in enumerate(precisions):
                for q in prunings:
                    level = 1e-3 * (1 + wi) * (1 + 0.5 * bi) / (1 + pi * 0.4) * (0.8 if q != "none" else 1.0)
                    out.append(JobSpec(b, w, p, q, level_s=level))
    return out


def store_run(store: Store, run_id: str, specs: Sequence[JobSpec], seed: int, *, started_at: float,
              level_factor: dict[str, float] | None = None, throttled: frozenset[str] = frozenset()) -> None:
    """One run through the Store API; ``level_factor`` scales a board's latency (to plant steps)."""
    rng = np.random.default_rng(seed)
    store.create_run(run_id, "nightly", None, None, "0.1.0", {"hostname": "ci"}, {}, started_at=started_at)
    for b in sorted({sp.board for sp in specs}):
        store.record_board(run_id, b, {**SNAPSHOT, "hostname": b}, status="complete")
    for sp in specs:
        f = (level_factor or {}).get(sp.board, 1.0)
        spec = JobSpec(sp.board, sp.workload, sp.precision, sp.pruning, sp.params, sp.level_s * f, sp.status)
        store.add_job(job_record(run_id, spec, rng, throttled=sp.board in throttled))
    store.finish_run(run_id, "complete")


def _rows(rec: JobRecord, job_id: int) -> tuple[dict[str, object], list[dict[str, object]],
                                                list[dict[str, object]]]:
    job = {"id": job_id, "run_id": rec.run_id, "board": rec.board, "job_key": rec.job_key,
           "workload": rec.workload, "backend": rec.backend, "precision": rec.precision,
           "pruning": rec.pruning,
           "params_json": _dumps(rec.params), "status": rec.status, "reason": rec.reason,
           "stderr_tail": rec.stderr_tail, "implementation": rec.implementation,
           "timed_window": rec.timed_window, "started_at": rec.started_at, "duration_s": rec.duration_s,
           "work_json": _dumps(rec.work), "env_json": _dumps(rec.env), "details_json": _dumps(rec.details),
           "warnings_json": json.dumps([w.__dict__ for w in rec.warnings])}
    mets = [dict(job_id=job_id, **m.__dict__) for m in rec.metrics]
    raws = [{"job_id": job_id, "kind": k, "encoding": "json+zlib", "data": pack(v)}
            for k, v in rec.raw.items()]
    return job, mets, raws


def bulk_store(store: Store, n_runs: int, specs: Sequence[JobSpec], seed: int = 0,
               t0: float = 1.7e9, first: int = 0) -> Iterator[str]:
    """``n_runs`` nightly runs of ``specs`` inserted with executemany in one transaction per run (the
    schema's tables directly: building a 100 000-job store through add_job would take minutes)."""
    rng = np.random.default_rng(seed)
    with store.engine.connect() as conn:
        next_id = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(s.jobs.c.id), 0))).scalar_one()) + 1
    for r in range(first, first + n_runs):
        run_id = f"nightly-{r:04d}"
        jobs, mets, raws = [], [], []
        for sp in specs:
            job, m, rw = _rows(job_record(run_id, sp, rng, exact_stats=False), next_id)
            next_id += 1
            jobs.append(job)
            mets += m
            raws += rw
        with store.engine.begin() as conn:
            start = t0 + 86400 * (r - first)
            conn.execute(s.runs.insert(), [{
                "run_id": run_id,
                "started_at": start,
                "finished_at": start + 3600,
                "status": "complete",
                "suite_name": "nightly",
                "suite_file": None,
                "suite_hash": None,
                "tool_version": "0.1.0",
                "controller_json": "{}",
                "plan_json": "{}",
            }])
            conn.execute(s.boards.insert(), [{
                "run_id": run_id,
                "board": b,
                "snapshot_json": _dumps({**SNAPSHOT, "hostname": b}),
                "overhead_json": None,
                "status": "complete",
                "reason": None,
            } for b in sorted({sp.board for sp in specs})])
            conn.execute(s.jobs.insert(), jobs)
            conn.execute(s.metrics.insert(), mets)
            conn.execute(s.raw.insert(), raws)
        yield run_id
