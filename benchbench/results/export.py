"""Stored results → a flat table (pandas) → CSV, Parquet or JSON.

Layout: **long**, one row per (job, metric). Each row repeats the job's identity (run, board, job key,
workload, backend, precision, pruning, params as canonical JSON, status) and carries one metric's
``value``/``unit``/``scope``/``source``/``detail``/``unavailable_reason``. A job without metrics (failed,
unsupported, skipped) still appears once, with an empty ``metric``. Long rather than wide because the set
of metrics differs between jobs (power only where a sensor exists, throughput units per kernel), units
stay next to their values, and pandas pivots it in one call::

    df.pivot_table(index=["run_id", "board", "job_key"], columns="metric", values="value")

Values round-trip exactly: CSV floats are written as their shortest exact repr (pandas >= 3 reads them
back exactly by default; with pandas 2 pass ``float_precision="round_trip"``), JSON through the stdlib,
Parquet as float64.
Raw samples are not exported (they stay in the database, compressed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..errors import ConfigError, StoreError
from . import schema as s
from .store import Store

FORMATS = ("csv", "parquet", "json")

COLUMNS = ["run_id", "run_started_at", "board", "job_key", "workload", "backend", "precision", "pruning",
           "params", "status", "metric", "value", "unit", "scope", "source", "detail", "unavailable_reason"]


def _canonical_params(params_json: str) -> str:
    return json.dumps(json.loads(params_json), sort_keys=True, separators=(",", ":"), default=str)


def results_frame(store: Store, run_id: str | None = None) -> pd.DataFrame:
    """The long table for one run, or for every stored run (oldest run first, then job order)."""
    j, m, r = s.jobs, s.metrics, s.runs
    q = (sa.select(j.c.run_id, r.c.started_at.label("run_started_at"), j.c.board, j.c.job_key, j.c.workload,
                   j.c.backend, j.c.precision, j.c.pruning, j.c.params_json, j.c.status, m.c.name, m.c.value,
                   m.c.unit, m.c.scope, m.c.source, m.c.detail, m.c.unavailable_reason)
         .select_from(j.join(r, r.c.run_id == j.c.run_id).outerjoin(m, m.c.job_id == j.c.id))
         .order_by(r.c.started_at, j.c.run_id, j.c.id, m.c.name))
    if run_id is not None:
        q = q.where(j.c.run_id == run_id)
    try:
        with store.engine.connect() as conn:
            if (run_id is not None
                    and conn.execute(sa.select(r.c.run_id).where(r.c.run_id == run_id)).first() is None):
                raise StoreError(f"no run {run_id!r} in the results database",
                                 hint="`benchbench report --list` shows the stored runs")
            rows = conn.execute(q).all()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read results: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
    df = pd.DataFrame.from_records([tuple(x) for x in rows], columns=COLUMNS)
    if len(df):
        df["params"] = [_canonical_params(p) for p in df["params"]]
    df["value"] = pd.to_numeric(df["value"], errors="raise").astype("float64")
    df["run_started_at"] = df["run_started_at"].astype("float64")
    return df


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def write_frame(df: pd.DataFrame, fmt: str, out: Path) -> Path:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}",
                          key="--format")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "json":
            records = [{k: _json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
            tmp.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            try:
                import pyarrow  # noqa: F401
            except ModuleNotFoundError:
                raise ConfigError("Parquet export needs pyarrow", key="--format",
                                  hint="pip install pyarrow, or export --format csv") from None
            df.to_parquet(tmp, engine="pyarrow", index=False)
        tmp.replace(out)
    except OSError as exc:
        raise StoreError(f"cannot write export {out}: {exc.strerror}") from None
    return out


def export(store: Store, fmt: str, out: Path, run_id: str | None = None) -> tuple[Path, int]:
    """Write the long table of ``run_id`` (or all runs) to ``out``; returns the path and the row count."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}",
                          key="--format")
    df = results_frame(store, run_id)
    return write_frame(df, fmt, out), len(df)
