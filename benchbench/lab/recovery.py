"""Stalled-job recovery through procrastinate's own queries: a controller that stopped heart-beating (killed,
host lost) is pruned; its ``doing`` jobs become ``todo`` again (another worker re-runs them; the board's lock
is free once they leave ``doing``). Lease jobs of a dead ``benchbench run`` are finished instead — nobody
is left to measure under them — and a waiter that died before its lease came up is cancelled, since a
waiting job with a board's lock holds back every later job of that board.

Every worker runs this every few seconds, and ``benchbench run`` before it asks for a lease, so a lab with
only hand-started runs also recovers.
"""

from __future__ import annotations

import logging
from typing import Any

from .engine import LEASE_TASK, QUEUE_SCHEMA

log = logging.getLogger(__name__)


def recover_stalled(conn: Any, stalled_s: float) -> list[int]:
    """Requeue (or finish, for leases) the jobs of controllers silent for ``stalled_s``; their engine ids.
    ``conn``: an autocommit psycopg connection on the queue schema."""
    import psycopg
    from procrastinate.sql import queries
    conn.execute(queries["prune_stalled_workers"], {"seconds_since_heartbeat": stalled_s}).fetchall()
    rows = conn.execute(queries["select_stalled_jobs_by_heartbeat"],
                        {"queue": None, "task_name": None, "seconds_since_heartbeat": stalled_s}).fetchall()
    recovered = []
    for row in rows:
        job_id, task_name = row[0], row[2]
        try:
            if task_name == LEASE_TASK:
                conn.execute(queries["finish_job"],
                             {"job_id": job_id, "status": "failed", "delete_job": False})
            else:
                conn.execute(queries["retry_job"], {"job_id": job_id, "retry_at": None, "new_priority": None,
                                                    "new_queue_name": None, "new_lock": None})
        except psycopg.Error as exc:  # another controller handled it first (the job left 'doing')
            log.debug("stalled job %s already handled elsewhere: %s", job_id, exc)
            continue
        conn.execute(f"UPDATE {QUEUE_SCHEMA}.bb_activity SET finished_at = now(), outcome = 'lost' "
                     "WHERE job_id = %s AND finished_at IS NULL", (job_id,))
        log.warning("engine job %s (%s) of a stalled controller: %s", job_id, task_name,
                    "lease released" if task_name == LEASE_TASK else "back in the queue")
        recovered.append(job_id)
    # waiters for a lease whose controller is gone
    orphans = conn.execute(
        "SELECT j.id FROM procrastinate_jobs j WHERE j.status = 'todo' AND j.task_name = %s AND NOT EXISTS "
        "(SELECT 1 FROM procrastinate_workers w WHERE w.id = (j.args->>'worker_id')::bigint)",
        (LEASE_TASK,)).fetchall()
    for (job_id,) in orphans:
        conn.execute(queries["cancel_job"], {"job_id": job_id, "abort": False, "delete_job": False})
        recovered.append(job_id)
    return recovered
