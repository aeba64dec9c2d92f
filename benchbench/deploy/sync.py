"""Per-board sync of the agent and artifacts into the board's work dir, content-addressed.

The board's own Python hashes what is already there (one exec, argv only); files that are present with
the right sha256 are not sent. ``Transport.put`` writes to a temporary name and renames, so an aborted
upload never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeployError, TransportError
from ..transport.base import Transport

log = logging.getLogger(__name__)

# Runs on the board: argv = [dir, name...]; prints {name: sha256 or null} and free bytes of dir.
_HASH_SCRIPT = r"""
import hashlib, json, os, sys
d = os.path.expanduser(sys.argv[1])
os.makedirs(d, mode=0o700, exist_ok=True)
out = {}
for name in sys.argv[2:]:
    p = os.path.join(d, name)
    try:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[name] = h.hexdigest()
    except OSError:
        out[name] = None
st = os.statvfs(d)
print(json.dumps({"files": out, "free_bytes": st.f_bavail * st.f_frsize, "dir": d}))
"""


@dataclass(frozen=True)
class SyncReport:
    sent: tuple[str, ...]
    kept: tuple[str, ...]
    bytes_sent: int
    remote_dir: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sync_files(transport: Transport, python: str, remote_dir: str, files: dict[str, Path],
               timeout_s: float = 120.0, margin_bytes: int = 16 << 20) -> SyncReport:
    """Make ``remote_dir/<name>`` hold exactly ``files[name]`` for every name; send only what differs."""
    names = sorted(files)
    try:
        res = transport.run([python, "-c", _HASH_SCRIPT, remote_dir, *names], timeout_s=timeout_s)
    except TransportError as exc:
        raise DeployError(f"{transport.name}: cannot inspect {remote_dir}: {exc}") from exc
    if not res.ok:
        raise DeployError(f"{transport.name}: inspecting {remote_dir} failed (exit {res.exit_code}): "
                          f"{res.stderr_tail.strip().splitlines()[-1:]}")
    try:
        state = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeployError(f"{transport.name}: unexpected reply while inspecting {remote_dir}") from None
    want = {n: sha256_file(files[n]) for n in names}
    missing = [n for n in names if state["files"].get(n) != want[n]]
    need = sum(files[n].stat().st_size for n in missing)
    if need and state["free_bytes"] < need + margin_bytes:
        raise DeployError(f"{transport.name}: not enough free disk in {state['dir']}: "
                          f"{state['free_bytes'] / 1e6:.1f} MB free, {need / 1e6:.1f} MB needed")
    for n in missing:
        log.info("%s: sending %s (%d bytes)", transport.name, n, files[n].stat().st_size)
        transport.put(files[n], posixpath.join(state["dir"], n))
    return SyncReport(sent=tuple(missing), kept=tuple(n for n in names if n not in missing), bytes_sent=need,
                      remote_dir=state["dir"])
