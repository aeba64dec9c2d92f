"""The agent zipapp carries bytecode for the controller's Python (workers start without compiling the
agent) and stays deterministic; a board with another Python reads the sources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchbench.deploy.agent_build import build_agent

BUILD = "from pathlib import Path; import sys; {pre}from benchbench.deploy.agent_build import build_agent; " \
        "print(build_agent(Path(sys.argv[1])).sha256)"


def test_same_bytes_whatever_the_controller_imported(tmp_path: Path) -> None:
    digests = {subprocess.run([sys.executable, "-c", BUILD.format(pre=pre), str(tmp_path / str(i))],
                              check=True, capture_output=True, text=True).stdout.strip()
               for i, pre in enumerate(("", "import numpy, json, sqlalchemy; "))}
    assert len(digests) == 1


def test_bytecode_beside_every_module_and_the_agent_runs(tmp_path: Path) -> None:
    archive = build_agent(tmp_path)
    names = zipfile.ZipFile(archive.path).namelist()
    sources = [n for n in names if n.startswith("bbagent/") and n.endswith(".py")]
    assert sources and all(n + "c" in names for n in sources)
    out = subprocess.run([sys.executable, str(archive.path), "version"], check=True, capture_output=True,
                         text=True)
    assert '"agent_version"' in out.stdout


def test_foreign_bytecode_falls_back_to_the_sources(tmp_path: Path) -> None:
    """A board's Python of another version sees a pyc with another magic number: it must read the .py."""
    archive = build_agent(tmp_path)
    foreign = tmp_path / "foreign.pyz"
    with zipfile.ZipFile(archive.path) as src, zipfile.ZipFile(foreign, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, b"\x00\x00\r\n" + data[4:] if info.filename.endswith(".pyc") else data)
    out = subprocess.run([sys.executable, str(foreign), "version"], check=True, capture_output=True,
                         text=True)
    assert '"agent_version"' in out.stdout


def test_built_once_per_process_for_parallel_callers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Boards are checked from parallel threads: one compile for all of them; a deleted archive is rebuilt."""
    from concurrent.futures import ThreadPoolExecutor

    from benchbench.deploy import agent_build

    calls: list[int] = []
    real = agent_build._compile
    monkeypatch.setattr(agent_build, "_compile", lambda sources: calls.append(1) or real(sources))
    with ThreadPoolExecutor(4) as pool:
        archives = list(pool.map(lambda _: build_agent(tmp_path / "cache"), range(4)))
    assert len(set(archives)) == 1 and len(calls) == 1
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [archives[0].path.name]  # no temp left
    archives[0].path.unlink()
    assert build_agent(tmp_path / "cache") == archives[0] and archives[0].path.exists() and len(calls) == 2
    build_agent(tmp_path / "other")  # another cache dir gets its own file
    assert len(calls) == 3 and (tmp_path / "other" / archives[0].path.name).exists()
