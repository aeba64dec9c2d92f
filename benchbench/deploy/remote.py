"""Content-addressed deploy into a board's work dir, through any Transport (local or SSH).

All board-side work is done by the board's own Python (3.8+) running one fixed program
(``boardside/deploy_ops.py``, sent with ``-c``) whose only input is a JSON document passed as an argv
element — never a shell string holding values. Per deploy:
one exec inspects (hashes what is there, clears stale partial uploads, reports free disk), the missing
files go up through ``Transport.put`` to a staging name, and one exec verifies each staged file's sha256
and renames it into place. A file that fails verification is deleted, never left under its final name.
"""

from __future__ import annotations

import json
import logging
import posixpath
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeployError, TransferError, TransportError
from ..transport.base import Transport
from . import boardside
from .boardside.deploy_ops import sha256_file

log = logging.getLogger(__name__)

STALE_PARTIAL_S = 600.0  # partial uploads older than this are from an aborted deploy: removed


@dataclass(frozen=True)
class DeployReport:
    sent: tuple[str, ...]
    kept: tuple[str, ...]
    bytes_sent: int
    remote_dir: str  # absolute path on the board


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in name:
        raise DeployError(f"invalid deploy file name {name!r}: must be a relative path inside the work dir")


def board_call_script(transport: Transport, python: str, script: str, args: Sequence[str], timeout_s: float,
                      what: str = "board script") -> Any:
    """Run a stdlib Python script on the board (argv only, never a shell string); its last stdout line
    parsed as JSON, or DeployError."""
    try:
        res = transport.run([python, "-c", script, *args], timeout_s=timeout_s)
    except TransportError as exc:
        raise DeployError(f"{transport.name}: {what} on the board failed: {exc}") from exc
    if not res.ok:
        last = (res.stderr_tail.strip().splitlines() or [""])[-1]
        hint = f"is '{python}' a Python 3.8+ on the board?" if res.exit_code == 127 else None
        raise DeployError(f"{transport.name}: {what} on the board failed (exit {res.exit_code}): "
                          f"{last}", hint=hint)
    try:
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeployError(f"{transport.name}: unexpected reply from the board: {res.stdout[-200:]!r}") \
            from None


def board_call(transport: Transport, python: str, request: Mapping[str, Any], timeout_s: float) -> Any:
    """Run the deploy script with one JSON request; its JSON reply, or DeployError."""
    return board_call_script(transport, python, boardside.source("deploy_ops"), [json.dumps(request)],
                             timeout_s, what=request["op"])


def deploy_files(transport: Transport, python: str, remote_dir: str, files: Mapping[str, Path], *,
                 timeout_s: float = 120.0, margin_bytes: int = 16 << 20,
                 hashes: Mapping[str, str] | None = None) -> DeployReport:
    """Make ``remote_dir/<name>`` hold exactly ``files[name]``; send only what is missing or differs.

    ``hashes`` (name → sha256) skips hashing local files whose digest is already known (e.g. the agent
    zipapp, named by its hash). Raises DeployError for too little free disk (before sending anything), a
    failed upload (partial removed) or a verification failure.
    """
    for name in files:
        _check_name(name)
    want = {n: (hashes or {}).get(n) or sha256_file(p) for n, p in files.items()}
    sizes = {n: p.stat().st_size for n, p in files.items()}
    state = board_call(transport, python, {"op": "inspect", "dir": remote_dir, "stale_s": STALE_PARTIAL_S,
                                           "files": {n: [want[n], sizes[n]] for n in files}}, timeout_s)
    if state.get("refused"):
        # another user could replace the agent or the models between our checks and the run
        raise DeployError(f"{transport.name}: refusing work_dir {state['refused']}",
                          hint="point the board's work_dir at a directory only the login user can write")
    if state.get("tightened"):
        log.warning("%s: work_dir %s was writable by other users (mode %s); removed group/other write",
                    transport.name, state["dir"], state["tightened"])
    missing: list[str] = state["missing"]
    need = sum(sizes[n] for n in missing)
    if missing and state["free_bytes"] < need + margin_bytes:
        raise DeployError(f"{transport.name}: not enough free disk in {state['dir']}: "
                          f"{state['free_bytes'] / 1e6:.1f} MB free, {need / 1e6:.1f} MB to send "
                          f"(+{margin_bytes / 1e6:.0f} MB margin)",
                          hint="free space on the board or point work_dir at a larger disk")
    staged: list[list[str]] = []
    try:
        for n in missing:
            final = posixpath.join(state["dir"], n)
            tmp = f"{final}.bbstage-{uuid.uuid4().hex[:12]}"
            log.info("%s: sending %s (%d bytes)", transport.name, n, sizes[n])
            staged.append([tmp, final, want[n]])
            transport.put(files[n], tmp, mode=0o755 if n.endswith(".pyz") else 0o644)
    except TransferError as exc:
        _discard(transport, python, [s[0] for s in staged], timeout_s)
        raise DeployError(f"{transport.name}: deploy to {state['dir']} failed: {exc}",
                          hint=exc.hint) from exc
    if staged:
        bad = board_call(transport, python, {"op": "commit", "items": staged}, timeout_s)["bad"]
        if bad:
            raise DeployError(f"{transport.name}: sha256 mismatch after upload of {', '.join(bad)} "
                              "(removed); the link or the board's storage corrupts data")
    return DeployReport(sent=tuple(missing), kept=tuple(n for n in sorted(files) if n not in missing),
                        bytes_sent=need, remote_dir=state["dir"])


def _discard(transport: Transport, python: str, paths: list[str], timeout_s: float) -> None:
    try:
        board_call(transport, python, {"op": "discard", "paths": paths}, timeout_s)
    except DeployError as exc:  # board gone: the next inspect removes them once stale
        log.warning("%s: could not remove partial uploads: %s", transport.name, exc)


def make_run_dir(transport: Transport, python: str, parent: str, run_id: str, *,
                 timeout_s: float = 60.0) -> str:
    """Create ``parent/run_id`` with mode 0700 (results and requests are private); its absolute path."""
    _check_name(run_id)
    if "/" in run_id:
        raise DeployError(f"invalid run id {run_id!r}")
    return str(board_call(transport, python, {"op": "rundir", "parent": parent, "name": run_id},
                          timeout_s)["dir"])
