"""What the published site reads of the store, through the one read model (:mod:`benchbench.results.queries`,
the same reads as the ``history`` command): the history of every stored job, and big runs narrowed to the
metrics their pages show. No SQL here."""

from __future__ import annotations

from collections.abc import Iterable

from ..analysis.adapt import entries_from_rows, stored_names
from ..analysis.compare import JobSample
from ..analysis.gates import METRICS
from ..analysis.history import RunRef
from ..results.queries import job_rows, summary_run
from ..results.records import RunData
from ..results.store import Store


def history_entries(store: Store, metrics: Iterable[str]) -> list[tuple[RunRef, JobSample]]:
    """One (run, sample) per stored job that finished ``ok``, oldest run first."""
    return entries_from_rows(job_rows(store, stored_names(metrics)))


#: what the site shows of a big run (board pages) and compares (SITE_METRICS), by stored metric name
_SITE_RUN_METRICS = ("latency.p50", "latency.p90", "latency.p99", "latency.ci95_lo", "latency.ci95_hi",
                     "latency.mean", "latency.n", "latency.sd", "throughput.items", "throughput.ops",
                     "throughput.bandwidth", "mem.peak_rss", "power.mean", "energy.per_inference", "temp.max")


def site_run(store: Store, run_id: str) -> RunData:
    """A run as the site's big-run pages and comparisons use it (:func:`summary_run`)."""
    return summary_run(store, run_id, sorted(set(_SITE_RUN_METRICS) | {METRICS[k].store_name
                                                                       for k in _site_metrics()}))


def _site_metrics() -> tuple[str, ...]:
    from .comparepage import SITE_METRICS  # comparepage imports rendering; sitedata stays light
    return SITE_METRICS
