"""Build the agent as a deterministic stdlib ``zipapp`` and name it by its sha256.

The archive holds ``bbagent/`` (a copy of ``benchbench/agent`` — relative imports only, so the package
name does not matter) and a ``__main__.py``. Entries are sorted and timestamped identically, so the same
source always gives the same bytes and the same hash: a board that has it is not sent it again.
"""

from __future__ import annotations

import hashlib
import io
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


def _sources() -> list[tuple[str, bytes]]:
    root = Path(agent_pkg.__file__).parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return [(f"{PACKAGE}/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files]


def build_agent(cache_dir: Path) -> AgentArchive:
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        entries = _sources() + [("__main__.py", f"import sys\nfrom {PACKAGE}.cli import main\n"
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
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return AgentArchive(path=path, sha256=digest)
