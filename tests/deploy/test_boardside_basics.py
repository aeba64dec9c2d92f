"""``fleet check``'s first board-side program parses on any Python, so a board whose Python is too old is
told so ("older than 3.8") instead of "did not run: SyntaxError"."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchbench.config.fleet import BoardSpec
from benchbench.deploy import boardside
from benchbench.deploy.health import check_board
from benchbench.transport.local import LocalTransport


def _python27() -> str | None:
    pyenv = Path.home() / ".pyenv" / "versions"
    found = sorted(pyenv.glob("2.7*/bin/python2.7")) if pyenv.is_dir() else []
    return str(found[-1]) if found else shutil.which("python2.7")


PY27 = _python27()
needs_py27 = pytest.mark.skipif(PY27 is None, reason="no python2.7 on this machine (pyenv or PATH)")


def test_basics_parses_as_old_python() -> None:
    src = boardside.source("basics")
    assert src.isascii()  # Python 2 rejects other source bytes without a coding line
    ast.parse(src, feature_version=(3, 4))


def test_basics_on_this_python(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", boardside.source("basics"), str(tmp_path / "not" / "yet")],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    basics = json.loads(out.strip().splitlines()[-1])
    assert basics["version_info"] == list(sys.version_info[:2]) and basics["free_bytes"] > 0


@needs_py27
def test_basics_runs_on_python27(tmp_path: Path) -> None:
    assert PY27 is not None
    # a relative work dir: its parents end at "" rather than "/"
    out = subprocess.run([PY27, "-c", boardside.source("basics"), "relative/work"], cwd=tmp_path,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    basics = json.loads(out.strip().splitlines()[-1])
    assert basics["version_info"] == [2, 7] and basics["python"].startswith("2.7")
    assert basics["free_bytes"] > 0 and isinstance(basics["temps_c"], list)


@needs_py27
def test_fleet_check_says_the_python_is_too_old(tmp_path: Path) -> None:
    assert PY27 is not None
    board = BoardSpec(name="old", host="localhost", python=PY27, work_dir=str(tmp_path / "work"))
    h = check_board(board, LocalTransport(), tmp_path / "cache")
    assert not h.healthy and h.python is not None and h.python.startswith("2.7")
    assert h.reasons == [f"Python {h.python} is older than 3.8 (the agent needs 3.8+)"]
