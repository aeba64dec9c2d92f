"""Read-side queries the analysis CLI needs beyond :class:`Store`'s per-run API."""

from __future__ import annotations

from dataclasses import replace

from .records import RunData
from .store import Store


def runs_for_history(store: Store, board: str | None = None, workload: str | None = None) -> list[RunData]:
    """Every stored run, oldest first, with its jobs narrowed to ``board``/``workload`` when given.

    Loads run by run through :meth:`Store.load_run` (raw values included: history uses them to set the
    noise floor), so cost grows with the number of runs; fine for nightly histories of a few hundred runs.
    """
    out: list[RunData] = []
    for info in sorted(store.list_runs(), key=lambda r: (r.started_at, r.run_id)):
        run = store.load_run(info.run_id)
        jobs = tuple(j for j in run.jobs if (board is None or j.board == board)
                     and (workload is None or j.workload == workload))
        if jobs:
            out.append(replace(run, jobs=jobs))
    return out
