"""Where expanders put things and how their errors point back at the suite: the suite-relative path of a
user's file, the flat artifacts directory a board receives (hard links into the controller's cache), and
an error relocated onto the suite file and the entry's key path (or onto the command-line flags of a
``benchbench run --model`` invocation, ``BYO_FLAGS``)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..errors import ConfigError

#: the "suite file" of a ``run --model`` invocation: errors then name the command-line flags
BYO_FLAGS = "<command line>"


def relocated(exc: ConfigError, file: str | None, key: str) -> ConfigError:
    """The same error, pointed at the suite file and the entry's key path."""
    msg = str(exc)
    prefix = ":".join(p for p in (exc.file, exc.key) if p)
    if prefix and msg.startswith(prefix + ": "):
        msg = msg[len(prefix) + 2:]
    return ConfigError(msg, file=file, key=key, hint=exc.hint)


def resolve_path(path: str, suite_file: str | None) -> Path:
    p = Path(path).expanduser()
    if p.is_absolute() or suite_file is None or not Path(suite_file).is_file():
        return p
    return Path(suite_file).resolve().parent / p


def stage(src: Path, name: str, deploy_dir: Path) -> Path:
    """A uniquely named hard link (or copy) of ``src``: the board's artifacts directory is flat."""
    deploy_dir.mkdir(parents=True, exist_ok=True)
    dst = deploy_dir / name
    if dst.exists():
        if os.path.samefile(src, dst) or dst.stat().st_size == src.stat().st_size:
            return dst
        dst.unlink()
    tmp = deploy_dir / (name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:  # another filesystem: copy
        shutil.copyfile(src, tmp)
    tmp.replace(dst)
    return dst


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)
