"""Is a board ready to benchmark? Used by ``benchbench fleet check`` (and usable before a fleet run).

One exec reads the basics with the board's own Python (version, arch, free disk under the work dir,
thermal zones); the agent zipapp is deployed content-addressed and its ``probe`` lists the sensors and
runtime libraries. Every problem becomes a reason; a board is healthy when there are none.
"""

from __future__ import annotations

import json
import logging
import posixpath
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config.fleet import BoardSpec
from ..config.profiles import DeviceProfile, families_for
from ..errors import AgentError, BenchbenchError, DeployError
from ..transport.base import Transport
from . import boardside
from .agent_build import build_agent
from .detect import choose_profile, looks_unlike, run_detect
from .remote import deploy_files

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 256 << 20
MAX_IDLE_TEMP_C = 70.0
RUNTIMES = ("onnxruntime", "onnxruntime-gpu", "rknn-toolkit-lite2", "ai-edge-litert", "numpy")
#: the unit a missing sensor would have had (the agent's "unavailable" entries carry no unit or name)
QUANTITY_UNITS = {"power": "W", "energy": "J", "temperature": "C", "clock": "MHz", "load": "%",
                  "memory": "bytes", "voltage": "V", "current": "A"}


@dataclass
class BoardHealth:
    name: str
    reachable: bool = False
    healthy: bool = False
    reasons: list[str] = field(default_factory=list)
    python: str | None = None
    arch: str | None = None
    free_disk_bytes: int | None = None
    idle_temp_c: float | None = None
    runtimes: dict[str, str] = field(default_factory=dict)
    sensors: list[dict[str, Any]] = field(default_factory=list)
    hostname: str | None = None
    #: the device profile a run would use, why, and what the board's own detection says
    profile: str | None = None
    profile_reason: str | None = None
    detected_profile: dict[str, Any] | None = None
    #: things worth knowing that do not make the board unhealthy
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_board(board: BoardSpec, transport: Transport, agent_cache: Path, *, timeout_s: float = 60.0
                ) -> BoardHealth:
    """Everything is recorded as reasons; only a dead connection raises (the caller records that)."""
    h = BoardHealth(name=board.name, reachable=True)
    res = transport.run([board.python, "-c", boardside.source("basics"), board.work_dir], timeout_s=timeout_s)
    if not res.ok:
        h.reasons.append(f"'{board.python}' did not run (exit {res.exit_code}): "
                         f"{(res.stderr_tail.strip().splitlines() or [''])[-1]}")
        return h
    basics = json.loads(res.stdout.strip().splitlines()[-1])
    h.python, h.arch, h.free_disk_bytes = basics["python"], basics["arch"], basics["free_bytes"]
    if tuple(basics["version_info"]) < (3, 8):
        h.reasons.append(f"Python {h.python} is older than 3.8 (the agent needs 3.8+)")
        return h
    if h.free_disk_bytes is not None and h.free_disk_bytes < MIN_FREE_BYTES:
        h.reasons.append(f"only {h.free_disk_bytes / 1e6:.0f} MB free under {board.work_dir}")
    if basics["temps_c"]:
        h.idle_temp_c = max(basics["temps_c"])
        if h.idle_temp_c > MAX_IDLE_TEMP_C:
            h.reasons.append(f"idle temperature {h.idle_temp_c:.1f} °C is above {MAX_IDLE_TEMP_C:.0f} °C")
    try:
        archive = build_agent(agent_cache)
        rep = deploy_files(transport, board.python, board.work_dir, {archive.remote_name: archive.path},
                           hashes={archive.remote_name: archive.sha256}, timeout_s=timeout_s)
    except DeployError as exc:
        h.reasons.append(f"agent deploy failed: {exc}")
        return h
    agent = posixpath.join(rep.remote_dir, archive.remote_name)
    profile = _choose_profile(h, board, transport, agent, timeout_s)
    # what a run would sample (the profile's families, meter binding included), so the check shows those
    # sensors; detection ran above, once, so the probe does not repeat it
    probe = transport.run([board.python, agent, "probe", "--no-detect", "--families",
                           ",".join(families_for(profile))], timeout_s=timeout_s)
    if not probe.ok:
        h.reasons.append(f"agent probe failed (exit {probe.exit_code}): {probe.stderr_tail.strip()[-300:]}")
        return h
    snap = json.loads(probe.stdout.strip().splitlines()[-1])
    h.hostname = snap.get("hostname")
    h.runtimes = {k: v for k, v in (snap.get("libraries") or {}).items() if k in RUNTIMES and v}
    h.sensors = [_sensor(s) for s in snap.get("sensors", [])]
    h.healthy = not h.reasons
    return h


def _choose_profile(h: BoardHealth, board: BoardSpec, transport: Transport, agent: str,
                    timeout_s: float) -> DeviceProfile | None:
    """The profile a run would use, and why: ``choose_profile`` on one ``agent detect``. A configured
    profile the board does not look like is a warning here, not part of the reason."""
    try:
        h.detected_profile = run_detect(transport, board.python, agent, timeout_s)
    except AgentError as exc:
        log.info("%s: %s", board.name, exc)
    # a configured profile wins; here its mismatch with the board is a warning, not part of the reason
    detected_if_needed = None if board.profile else h.detected_profile
    profile, h.profile_reason = choose_profile(None, board.profile, detected_if_needed)
    if profile is None:
        return None
    h.profile = board.profile or profile.name  # as the fleet file names it (a profile file stays its path)
    detected = h.detected_profile or {}
    if board.profile and looks_unlike(board.profile, h.detected_profile):
        h.warnings.append(f"configured profile {board.profile} but the board looks like "
                          f"{detected.get('profile')} ({detected.get('reason')})")
    return profile


def _sensor(s: dict[str, Any]) -> dict[str, Any]:
    """One ``fleet check`` sensor object: name, quantity, scope, unit, available, and reason when missing."""
    out = dict(s)
    if not s.get("available"):
        out.setdefault("name", f"{s.get('family', '?')}_{s.get('quantity', 'sensor')}")
        out.setdefault("unit", QUANTITY_UNITS.get(str(s.get("quantity")), ""))
    out.setdefault("scope", None)
    return out


def unreachable(board: BoardSpec, exc: BaseException) -> BoardHealth:
    msg = str(exc) if isinstance(exc, BenchbenchError) else f"{type(exc).__name__}: {exc}"
    hint = getattr(exc, "hint", None)
    return BoardHealth(name=board.name, reasons=[msg + (f" ({hint})" if hint else "")])
