"""Boards as the pipeline runs them: a connect function plus what the board's device profile says
(sensor families, headline power, CPU arch, providers). The profile is ``--profile``, the fleet file's, or
what the board's own detection recognises."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agent.protocol import DEFAULT_FAMILIES
from ..config.profiles import DeviceProfile, families_for, snapshot_facts
from ..deploy.detect import choose_profile, detect_board
from ..errors import BenchbenchError, ConfigError
from ..transport.base import Transport
from ..transport.local import LocalTransport
from ..transport.sshconfig import DEFAULT_SSH_CONFIG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardTarget:
    name: str
    connect: Callable[[], Transport]
    python: str = "python3"
    work_dir: str = "~/.cache/benchbench/board"
    sampling_families: tuple[str, ...] = DEFAULT_FAMILIES
    sampling_root: str = "/"
    #: CPU architecture from the board's profile (None: unknown, the controller's is assumed for artifacts)
    arch: str | None = None
    #: the device profile's headline power channel (DeviceProfile.effective_headline): it, not the scope
    #: priority, picks the job's power.mean / energy.per_inference when the board reported it
    headline_channel: str | None = None
    #: the device profile's ONNX Runtime providers in preference order, put into its ORT jobs' params
    providers: tuple[str, ...] | None = None
    #: profile facts for the board snapshot (``config.profiles.snapshot_facts``: the profile's name, which
    #: reports look up roofline peaks by, why this profile, power limits)
    profile_facts: dict[str, Any] | None = None


def target(name: str, connect: Callable[[], Transport], python: str, work_dir: str,
           profile: DeviceProfile | None, why: str) -> BoardTarget:
    """A board run with its device profile's sensors, headline power, arch and providers."""
    families = tuple(families_for(profile))
    if profile is None:
        return BoardTarget(name=name, connect=connect, python=python, work_dir=work_dir,
                           sampling_families=families, profile_facts={"profile_reason": why})
    headline = profile.effective_headline()
    return BoardTarget(name=name, connect=connect, python=python, work_dir=work_dir,
                       sampling_families=families, headline_channel=headline.channel if headline else None,
                       arch=profile.arch, providers=profile.execution_providers,
                       profile_facts=snapshot_facts(profile, why))


def detected(connect: Callable[[], Transport], python: str, work_dir: str,
             cache: Path) -> dict[str, Any] | None:
    """The board's own detection (None, logged, when it cannot be reached: the run then says why)."""
    try:
        transport = connect()
    except BenchbenchError as exc:
        log.warning("profile detection: %s", exc)
        return None
    try:
        return detect_board(transport, python, work_dir, cache / "agent")
    except BenchbenchError as exc:
        log.warning("profile detection: %s", exc)
        return None
    finally:
        transport.close()


def local_target(cache: Path, override: str | None = None) -> BoardTarget:
    """This machine as board ``local``: the agent runs as a subprocess with this Python."""
    work_dir = str(cache / "boards" / "local")
    found = None if override else detected(LocalTransport, sys.executable, work_dir, cache)
    profile, why = choose_profile(override, None, found)
    return target("local", LocalTransport, sys.executable, work_dir, profile, why)


def fleet_targets(fleet_file: Path, selectors: str | None, cache: Path, *, accept_new_host_keys: bool = False,
                  ssh_config: Path | None = DEFAULT_SSH_CONFIG,
                  override: str | None = None) -> list[BoardTarget]:
    """The selected boards of a fleet inventory, reached over SSH; a board without a profile is asked."""
    from ..config.fleet import load_fleet, select_boards
    from ..transport.fleet import ssh_opener
    inventory = load_fleet(fleet_file)
    opener = ssh_opener(inventory, ssh_config=ssh_config, accept_new_host_keys=accept_new_host_keys)
    targets = []
    for b in select_boards(inventory, selectors):
        connect = functools.partial(opener, b)
        # --profile wins (the fleet file's is not even loaded); a board without either says what it is
        found = None if override or b.profile else detected(connect, b.python, b.work_dir, cache)
        try:
            profile, why = choose_profile(override, b.profile, found)
        except ConfigError as exc:
            # a bad profile file names its own file and key; a bad name is the fleet file's
            if override or not b.profile or exc.file is not None:
                raise
            index = next(i for i, x in enumerate(inventory.boards) if x.name == b.name)
            raise ConfigError(f"board {b.name!r}: {exc.args[0]}", file=str(fleet_file),
                              key=f"boards[{index}].profile", hint=exc.hint) from None
        targets.append(target(b.name, connect, b.python, b.work_dir, profile, why))
    return targets
