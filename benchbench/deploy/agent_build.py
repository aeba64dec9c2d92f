"""Build the agent as a deterministic stdlib ``zipapp`` and name it by its sha256.

The archive holds ``bbagent/`` (a copy of ``benchbench/agent`` — relative imports only, so the package
name does not matter; with each module's bytecode for the controller's Python) and a ``__main__.py``. Entries
are sorted and timestamped identically, so the same source always gives the same bytes and the same hash: a
board that has it is not sent it again.
"""

from __future__ import annotations

import hashlib
import io
import marshal
import os
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import agent as agent_pkg

PACKAGE = "bbagent"
_EPOCH = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class AgentArchive:
    path: Path
    sha256: str

    @property
    def remote_name(self) -> str:
        return f"agent-{self.sha256[:16]}.pyz"


def _read_sources() -> list[tuple[str, bytes]]:
    root = Path(agent_pkg.__file__).parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return [(f"{PACKAGE}/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files]


def _with_bytecode(sources: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    pycs = _compile(sources)
    return [e for name, src in sources for e in ((name, src), (name + "c", pycs[name]))]


#: run in a fresh ``python -I -S``: marshal's output depends on the interpreter's state (which objects are
#: shared), so bytecode compiled here would change with whatever the controller imported before
_COMPILE = """
import importlib.util, marshal, sys
from importlib._bootstrap_external import _code_to_hash_pyc
out = {}
for name, src in marshal.loads(sys.stdin.buffer.read()):
    code = compile(src, name, "exec", dont_inherit=True, optimize=0)
    out[name] = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(src), checked=False))
sys.stdout.buffer.write(marshal.dumps(out))
"""


def _compile(sources: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Bytecode for this (the controller's) Python, next to each source: zipimport cannot write a cache,
    so without it every fresh worker process (one per job) compiles the agent again (tens of ms on a
    2-core board). Unchecked hash-based pycs from a clean interpreter, so the archive stays deterministic;
    a board whose Python has another magic number ignores them and reads the sources."""
    res = subprocess.run([sys.executable, "-I", "-S", "-c", _COMPILE], input=marshal.dumps(sources),
                         capture_output=True, check=True, timeout=120)
    out: dict[str, bytes] = marshal.loads(res.stdout)
    return out


#: archives built by this process, by (cache dir, sha256 of the agent's sources): boards are checked and
#: deployed from parallel threads, and each would otherwise read, compile and zip the same bytes again
_BUILT: dict[tuple[str, str], AgentArchive] = {}
_BUILD_LOCK = threading.Lock()


def build_agent(cache_dir: Path) -> AgentArchive:
    """The agent archive in ``cache_dir`` (built once per process and source state; the lock makes
    parallel callers wait for the first build instead of repeating it)."""
    sources = _read_sources()
    key = (str(cache_dir.resolve()), hashlib.sha256(marshal.dumps(sources)).hexdigest())
    with _BUILD_LOCK:
        hit = _BUILT.get(key)
        if hit is None or not hit.path.exists():
            hit = _BUILT[key] = _build(cache_dir, sources)
        return hit


def _build(cache_dir: Path, sources: list[tuple[str, bytes]]) -> AgentArchive:
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        entries = _with_bytecode(sources) + [("__main__.py", f"import sys\nfrom {PACKAGE}.cli import main\n"
                                                               f"sys.exit(main())\n".encode())]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"agent-{digest[:16]}.pyz"
    if not path.exists():
        # a private temp name: other processes (another benchbench command, a lab worker) may write the same
        # (identical) archive into this cache at once
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return AgentArchive(path=path, sha256=digest)
