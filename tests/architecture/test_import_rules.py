"""Architecture rules from the design, checked on the source: the agent is self-contained and stdlib-only
at module level; the host imports only the agent's protocol (plus the package path for the zipapp);
analysis is pure (no I/O layers)."""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "benchbench"
STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or ""))
    return out


def _depth(path: Path) -> int:
    return len(path.relative_to(ROOT / "agent").parts) - 1  # 0 for agent/x.py, 1 for agent/samplers/x.py


def test_agent_imports_nothing_outside_itself_and_only_stdlib_at_top():
    bad = []
    for path in (ROOT / "agent").rglob("*.py"):
        for level, mod in _imports(path, top_level_only=False):
            if level == 0 and mod.split(".")[0] == "benchbench":
                bad.append(f"{path}: absolute import {mod}")
            if level > _depth(path) + 1:
                bad.append(f"{path}: relative import leaves the agent package")
        for level, mod in _imports(path, top_level_only=True):
            if level == 0 and mod.split(".")[0] not in STDLIB:
                bad.append(f"{path}: third-party import {mod} at module level")
    assert bad == []


def test_host_imports_only_the_agent_protocol():
    allowed = {"benchbench.agent.protocol", "benchbench.agent"}
    bad = []
    for path in ROOT.rglob("*.py"):
        if (ROOT / "agent") in path.parents:
            continue
        rel_pkg = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
        for level, mod in _imports(path, top_level_only=False):
            if level:
                base = rel_pkg.split(".")[: len(rel_pkg.split(".")) - (level - 1)]
                full = ".".join(base + ([mod] if mod else []))
            else:
                full = mod
            if full.startswith("benchbench.agent") and full not in allowed:
                bad.append(f"{path}: imports {full}")
    assert bad == []


def test_analysis_imports_no_io_library():
    for path in (ROOT / "analysis").rglob("*.py"):
        for level, mod in _imports(path, top_level_only=False):
            assert level or mod.split(".")[0] not in ("sqlalchemy", "paramiko", "jinja2"), f"{path}: {mod}"


def test_protocol_family_list_matches_the_agent_registry():
    from benchbench.agent.protocol import SAMPLER_FAMILIES
    from benchbench.agent.samplers import FAMILIES
    assert set(SAMPLER_FAMILIES) == set(FAMILIES)


@functools.cache
def _module_graph() -> dict[str, set[str]]:
    """benchbench module → the benchbench modules it imports anywhere (function-level imports included: a
    lazy import still ties the two modules together). Built once per session; callers must not mutate it."""
    mods: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            # a module importing its own package's __init__ (or the package's submodules) is not an arrow back
            graph[name] |= {t for t in targets if t in mods and t != name and not name.startswith(t + ".")}
    return graph


def test_no_import_cycles_in_benchbench():
    graph = _module_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_every_expander_has_the_one_interface_and_its_line_in_the_registry():
    from benchbench.workloads import registry

    graph = _module_graph()
    for expander in registry.EXPANDERS:
        assert callable(expander.handles) and callable(expander.expand) and isinstance(expander.NAMES, tuple)
        assert not any("model_jobs" in m for m in graph[expander.__name__] if expander.__name__ != m)


def _reachable(start: str) -> dict[str, str]:
    """Every benchbench module importing ``start`` loads, directly or through others, each with the chain
    that reaches it. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so a module's
    packages are reached with it."""
    graph = _module_graph()
    chains = {start: start}
    todo = [start]
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        packages = {".".join(parts[:i]) for i in range(1, len(parts))} & graph.keys()
        for nxt in sorted(graph[mod] | packages):
            if nxt not in chains:
                chains[nxt] = f"{chains[mod]} → {nxt}"
                todo.append(nxt)
    return chains


def _reaches(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """The import chains by which a module of ``package`` loads a module under one of ``forbidden``."""
    bad: list[str] = []
    for mod in sorted(m for m in _module_graph() if m == package or m.startswith(package + ".")):
        bad += [chain for target, chain in _reachable(mod).items()
                if any(target == f or target.startswith(f + ".") for f in forbidden)]
    return bad


def test_report_does_not_import_config():
    """A report depends on the store alone: the profile facts it shows travel in the board snapshot
    (``config.profiles.snapshot_facts``), never read from device YAML at render time (#14.4). Checked on
    everything report/ loads, not only its own imports."""
    assert _reaches("benchbench.report", ("benchbench.config",)) == []


def test_analysis_is_pure():
    """Analysis is statistics on plain values and records (#14.3): nothing it loads, directly or through
    another module, is the agent protocol, ingest, the store and its queries, a transport or any layer
    above it. ``results.records``/``.rows``/``.keys`` are plain data and allowed."""
    forbidden = tuple(f"benchbench.{m}" for m in (
        "agent", "ingest", "results.store", "results.queries", "results.schema", "transport", "pipeline",
        "deploy", "report", "cli", "config", "lab"))
    assert _reaches("benchbench.analysis", forbidden) == []


def test_transport_does_not_import_config():
    """Transport reaches boards by their SSH fields alone (``transport.fleet.SSHBoard``/``SSHFleet``, which
    the fleet file's types satisfy) and reads files through the leaf ``files`` module, so the inventory
    format can change without touching transport (#14.7)."""
    assert _reaches("benchbench.transport", ("benchbench.config",)) == []


def test_reachability_follows_relative_and_package_imports():
    """The graph resolves ``from .. import x`` and ``from ..results import store``, and reaching a module
    reaches its packages' ``__init__`` (``transport/__init__`` loads ``transport.base``)."""
    graph = _module_graph()
    assert "benchbench.results.schema" in graph["benchbench.results.store"]  # from . import schema as s
    assert "benchbench.results.store" in graph["benchbench.results.queries"]  # from .store import …
    assert "benchbench.transport.base" in _reachable("benchbench.transport.local")
    assert "benchbench.results.store" in _reachable("benchbench.report.site")
