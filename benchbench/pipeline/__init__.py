"""One run: ``plan`` decides it, ``run`` executes it.

``plan.plan_run(PlanRequest, store, cache) → RunPlan``: the suite (or ``--model`` suite), the boards with
their device profiles (``targets``: ``--profile``, the fleet file's, or the board's detection) and each
board's jobs, expanded once per CPU architecture. ``run.Run(store, plan, cache_dir, events).execute()``: the
boards in parallel through ``transport.fleet.fan_out``, each job stored as the board reports it. The CLI
builds the request and prints.
"""

from .plan import PlanRequest, RunPlan, jobs_by_board, new_run_id, plan_run, stored_plan
from .run import BoardOutcome, Events, Run, controller_snapshot, summarize
from .targets import BoardTarget

__all__ = ["BoardOutcome", "BoardTarget", "Events", "PlanRequest", "Run", "RunPlan", "controller_snapshot",
           "jobs_by_board", "new_run_id", "plan_run", "stored_plan", "summarize"]
