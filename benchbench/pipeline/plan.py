"""What a run will do, decided before anything is measured: a :class:`RunPlan` from a :class:`PlanRequest`.

The request is what the user asked for (suite or ``--model``, fleet or this machine, board selectors, a run
to resume, a profile override); the plan is what that means: the suite, the boards with their profiles, and
each board's jobs, expanded once per CPU architecture (model variants differ: U8S8 int8 on x86, S8S8 on ARM).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.suite import Suite, load_suite, resolve_suite_path, suite_hash
from ..errors import ConfigError
from ..results.ids import check_run_id
from ..results.store import Store
from ..transport.sshconfig import DEFAULT_SSH_CONFIG
from ..workloads.model_jobs import byo_suite_hash
from ..workloads.plan import PlannedJob, local_arch
from ..workloads.registry import expand
from ..workloads.staging import BYO_FLAGS
from .targets import BoardTarget, fleet_targets, local_target


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass(frozen=True)
class PlanRequest:
    """A run as asked for (``benchbench run``'s flags); errors name those flags."""

    #: suite file or built-in name (None: ``quick``, or the resumed run's own)
    suite: str | None = None
    #: a ``--model`` run's generated suite, instead of a suite file
    byo: Suite | None = None
    #: boards from this fleet inventory over SSH (None: this machine as board ``local``)
    fleet_file: Path | None = None
    #: comma-separated board names or tags of the fleet
    boards: str | None = None
    #: the stored run to continue: its suite, fleet and boards; jobs already measured are kept
    resume: str | None = None
    #: ``--profile NAME|FILE``, overriding the detected (local) or configured (fleet) one
    profile: str | None = None
    accept_new_host_keys: bool = False
    #: the OpenSSH client config fleet boards are resolved through (None: none)
    ssh_config: Path | None = DEFAULT_SSH_CONFIG
    #: on a shared PostgreSQL store, wait for boards another controller holds (else skip them)
    wait: bool = False

    def __post_init__(self) -> None:
        # checked on creation: a bad request fails before the store is opened or a board contacted
        if self.resume is not None:
            check_run_id(self.resume, "--resume")
            if self.suite or self.byo is not None:
                raise ConfigError("--resume reruns the stored run's own suite; leave out --suite/--model",
                                  key="--resume")


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    #: continue a stored run (its plan is already stored) rather than create one
    resuming: bool
    suite: Suite
    #: the suite file as stored with the run (None for a ``--model`` run)
    suite_file: str | None
    suite_hash: str | None
    targets: tuple[BoardTarget, ...]
    #: board name → its jobs, expanded for the board's CPU architecture
    jobs: Mapping[str, list[PlannedJob]]
    #: how the run was asked for, stored so ``--resume`` can repeat it
    invocation: dict[str, Any] = field(default_factory=dict)
    #: boards from a fleet file: on a PostgreSQL store each takes its lab lease as it is connected
    fleet: bool = False
    wait: bool = False


def jobs_by_board(suite: Suite, errors_file: str, cache: Path,
                  arch: Mapping[str, str | None]) -> dict[str, list[PlannedJob]]:
    """Board name → its jobs: the suite expanded once per CPU arch (``arch``: board → its profile's, None
    for this machine's), artifacts built under ``cache``. ``run`` and the lab's ``submit`` both plan here."""
    by_arch = {a: expand(suite, errors_file, cache / "artifacts", target_arch=a)
               for a in sorted({a or local_arch() for a in arch.values()})}
    return {name: by_arch[a or local_arch()] for name, a in arch.items()}


def stored_plan(invocation: dict[str, Any], jobs: Mapping[str, list[PlannedJob]]) -> dict[str, Any]:
    """The plan stored with a run (``run`` and the lab's ``submit``): how it was asked for and each board's
    job keys, which ``--resume`` repeats and limits itself to."""
    return {"invocation": invocation, "jobs": {b: [j.spec.job_key for j in js] for b, js in jobs.items()}}


def _resumed(store: Store, run_id: str) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """The stored run's invocation and each board's planned job keys."""
    stored = store.run_plan(run_id)
    inv = stored.get("invocation") or {}
    if "suite" in inv and inv["suite"] is None:  # its model file and flags are not stored
        raise ConfigError(f"run {run_id} was a --model run and cannot be resumed; run it again with --model",
                          key="--resume")
    if not inv.get("suite"):  # an imported run
        raise ConfigError(f"run {run_id} was not measured by `benchbench run`: nothing to resume",
                          key="--resume")
    return inv, {b: set(keys) for b, keys in (stored.get("jobs") or {}).items()}


def plan_run(request: PlanRequest, store: Store, cache: Path) -> RunPlan:
    """Resolve a request: the resumed run's invocation, the boards and their profiles (a board without one
    is asked: this contacts it), and the jobs per board (artifacts built under ``cache``)."""
    suite_name, fleet_file, boards = request.suite, request.fleet_file, request.boards
    planned: dict[str, set[str]] | None = None
    if request.resume is not None:
        inv, planned = _resumed(store, request.resume)
        suite_name = inv["suite"]
        fleet_file = fleet_file or (Path(inv["fleet"]) if inv.get("fleet") else None)
        boards = boards or inv.get("boards")
    suite_path: Path | None = None
    if request.byo is not None:
        # a --model run has no suite file: errors then name the flags, and the suite's own hash stands in
        suite, errors_file, digest = request.byo, BYO_FLAGS, byo_suite_hash(request.byo)
    else:
        suite_path = resolve_suite_path(suite_name)
        suite, errors_file, digest = load_suite(suite_path), str(suite_path), suite_hash(suite_path)
    targets = (fleet_targets(fleet_file, boards, cache, accept_new_host_keys=request.accept_new_host_keys,
                             ssh_config=request.ssh_config, override=request.profile) if fleet_file
               else [local_target(cache, request.profile)])
    if planned is not None:
        targets = [t for t in targets if t.name in planned]
    jobs = jobs_by_board(suite, errors_file, cache, {t.name: t.arch for t in targets})
    if planned is not None:  # the stored plan's jobs only: a suite edited since adds none to the run
        jobs = {b: [j for j in js if j.spec.job_key in planned[b]] for b, js in jobs.items()}
    invocation = {"suite": str(suite_path.resolve()) if suite_path else None,  # None: not resumable
                  "fleet": str(fleet_file.resolve()) if fleet_file else None, "boards": boards}
    return RunPlan(run_id=request.resume or new_run_id(), resuming=request.resume is not None, suite=suite,
                   suite_file=str(suite_path) if suite_path else None, suite_hash=digest,
                   targets=tuple(targets), jobs=jobs, invocation=invocation, fleet=fleet_file is not None,
                   wait=request.wait)
