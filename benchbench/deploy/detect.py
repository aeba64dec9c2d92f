"""Which device profile a board gets, and why: the user's ``--profile``, the fleet file's ``profile:``, or
what the agent's ``detect`` recognises on the board itself (device tree, L4T release, npu-smi, NVML).
"""

from __future__ import annotations

import json
import logging
import posixpath
from pathlib import Path
from typing import Any

from ..config.profiles import DeviceProfile, load_profile
from ..errors import AgentError
from ..transport.base import Transport
from .agent_build import build_agent
from .remote import deploy_files

log = logging.getLogger(__name__)


def detect_board(transport: Transport, python: str, work_dir: str, agent_cache: Path,
                 timeout_s: float = 60.0) -> dict[str, Any]:
    """The agent's detection on the board (deployed content-addressed, as for a run):
    ``{"profile", "reason", "evidence"}``. Raises BenchbenchError when the board cannot say."""
    archive = build_agent(agent_cache)
    rep = deploy_files(transport, python, work_dir, {archive.remote_name: archive.path},
                       hashes={archive.remote_name: archive.sha256}, timeout_s=timeout_s)
    return run_detect(transport, python, posixpath.join(rep.remote_dir, archive.remote_name), timeout_s)


def run_detect(transport: Transport, python: str, agent_path: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """``agent detect`` with the agent already deployed at ``agent_path``. AgentError when it fails or says
    something else than a JSON object; a TransportError (the board gone) passes through."""
    res = transport.run([python, agent_path, "detect"], timeout_s=timeout_s)
    if not res.ok:
        raise AgentError(f"agent detect failed (exit {res.exit_code}): {res.stderr_tail.strip()[-300:]}")
    try:
        found = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        found = None
    if not isinstance(found, dict):
        raise AgentError(f"agent detect: unexpected reply {res.stdout[-200:]!r}")
    return found


def looks_unlike(configured: str, detected: dict[str, Any] | None) -> str | None:
    """Why a board does not look like its configured profile; None when it does or detection failed."""
    if detected and detected.get("profile") != configured:
        return f"the board looks like {detected.get('profile')}: {detected.get('reason')}"
    return None


def choose_profile(override: str | None, configured: str | None,
                   detected: dict[str, Any] | None) -> tuple[DeviceProfile | None, str]:
    """(profile, why): ``--profile`` wins, then the fleet file's, then the board's own detection."""
    if override:
        return load_profile(override), f"--profile {override}"
    if configured:
        unlike = looks_unlike(configured, detected)
        return load_profile(configured), "fleet file profile" + (f" ({unlike})" if unlike else "")
    if detected:
        return load_profile(str(detected["profile"])), f"detected: {detected.get('reason')}"
    return None, "no profile configured and detection failed"
