"""Seeded random mutation of valid suites, fleets and pytest-benchmark JSON: every input either loads or is
refused with a ConfigError (exit 2, one line) — never a traceback — and stored runs are never altered.
Bounded in time (about 8 s per kind); the seed is printed so a failure can be replayed."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from badinput_cases import PB_OK
from test_bad_input_table import one_clean_line, seed_store

from benchbench.cli.main import main
from benchbench.config.fleet import load_fleet, select_boards
from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.results.store import Store

BUDGET_S = 8.0
SUITE = """\
name: fuzz
description: a valid suite
timing: {warmup_s: 0.01, min_value_s: 0.001, rounds: 2, values_per_round: 3, max_timed_s: 1}
sampling: {interval_s: 0.02, families: [cpufreq, thermal]}
jobs:
  - workload: gemm
    backend: numpy
    precisions: [fp32, fp16]
    params: {m: 8, k: [8, 16], n: 8}
    timing: {rounds: 1}
  - workload: triad
    precisions: [fp64]
    params: {n: 1000}
    timeout_s: 30
"""
FLEET = """\
known_hosts: ./kh
boards:
  - name: pi5-01
    host: 10.0.0.12
    port: 22
    user: bench
    profile: pi5
    python: python3
    work_dir: ~/.cache/benchbench
    tags: [arm, pi]
  - {name: jetson, host: jetson.lab, tags: [arm]}
"""
NASTY: list[Any] = [0, -1, 1e308, "1e400", ".inf", ".nan", True, None, "", "x" * 300, [], {}, [1, [2]],
                    10**30, "\x1b[2J", "../../x", "\u202e", 2.5, "a,b", "~", {"a": {"b": None}}]
NASTY_TEXT = ["", "\x00", "\xff", "\t", ": :", "- -", "&a", "*a", "!!python/object:os.system", "{", "]",
              "\n  - ", ".inf", "-.nan", "1e400", "true", "null", "'", '"', "\\", "<<: *a", "\u2028", "#"]


def _mutate_text(rng: random.Random, text: str) -> bytes:
    data = text
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0:
            data = data[:i] + data[i + rng.randint(1, 12):]
        elif op == 1:
            data = data[:i] + rng.choice(NASTY_TEXT) + data[i:]
        elif op == 2:
            lines = data.splitlines(keepends=True)
            if lines:
                j = rng.randrange(len(lines))
                lines.insert(j, lines[rng.randrange(len(lines))])
                data = "".join(lines)
        elif op == 3:
            tokens = [t for t in data.replace(",", " ").replace("}", " ").replace("]", " ").split() if
                      t.replace(".", "").isdigit()]
            if tokens:
                data = data.replace(rng.choice(tokens), json.dumps(rng.choice(NASTY)).strip('"'), 1)
        else:
            data = data[:i] + json.dumps(rng.choice(NASTY)) + data[i:]
    raw = data.encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:
        j = rng.randrange(len(raw) + 1)
        raw = raw[:j] + bytes([rng.randrange(256)]) + raw[j:]
    return raw


def _mutate_json(rng: random.Random, doc: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        node, path = doc, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            return rng.choice(NASTY)
        parent, key = path[-1]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = rng.choice(NASTY)
    return doc


def _deadline_cases(seed: int) -> Any:
    rng = random.Random(seed)
    end = time.monotonic() + BUDGET_S
    n = 0
    while time.monotonic() < end or n < 50:
        n += 1
        yield rng, n


def _load_or_refuse(seed: int, path: Path, text: str, load: Callable[[random.Random, Path], object],
                    names_the_file: bool = False) -> None:
    """Mutations of ``text`` written to ``path`` until the time budget is spent: each one loads or is refused
    with a one-line ConfigError (naming ``path`` where ``names_the_file``), and both happen."""
    loaded = refused = 0
    for rng, n in _deadline_cases(seed):
        path.write_bytes(_mutate_text(rng, text))
        try:
            load(rng, path)
            loaded += 1
        except ConfigError as exc:
            assert str(path) in str(exc) or not names_the_file, f"seed {seed} case {n}: {exc}"
            assert "\n" not in str(exc).strip(), f"seed {seed} case {n}: {exc}"
            refused += 1
    assert loaded and refused


@pytest.mark.slow
@pytest.mark.parametrize("seed", [13])
def test_fuzzed_suites_load_or_give_a_config_error(seed: int, tmp_path: Path) -> None:
    _load_or_refuse(seed, tmp_path / "s.yaml", SUITE, lambda rng, path: load_suite(path), names_the_file=True)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [13])
def test_fuzzed_fleets_load_or_give_a_config_error(seed: int, tmp_path: Path) -> None:
    _load_or_refuse(seed, tmp_path / "f.yaml", FLEET, lambda rng, path: select_boards(
        load_fleet(path), rng.choice([None, "arm", "pi5-01,jetson"])))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [13])
def test_fuzzed_pytest_benchmark_imports_never_alter_stored_runs(seed: int, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "keep.db"
    run, other = seed_store(db, tmp_path)
    store = Store(db, readonly=True)
    before = (store.load_run(run), store.load_run(other))
    pb = tmp_path / "pb.json"
    imported = refused = 0
    for rng, n in _deadline_cases(seed):
        if rng.random() < 0.7:
            pb.write_text(json.dumps(_mutate_json(rng, PB_OK)))
        else:
            pb.write_bytes(_mutate_text(rng, json.dumps(PB_OK, indent=1)))
        argv = ["import", "pytest-benchmark", str(pb), "--board", "fuzz", "--db", str(db)]
        if rng.random() < 0.2:
            argv += ["--run", rng.choice([run, other, "../x",
                                          "fresh-" + hashlib.sha1(pb.read_bytes()).hexdigest()[:8]])]
        with pytest.raises(SystemExit) as exit_info:
            main(argv, prog_name="benchbench")
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, f"seed {seed} case {n}"
        if exit_info.value.code == 0:
            imported += 1
        else:
            assert exit_info.value.code == 2, f"seed {seed} case {n}: {err}"
            one_clean_line(err)
            refused += 1
        assert (store.load_run(run), store.load_run(other)) == before, f"seed {seed} case {n} altered a run"
    statuses = {r.run_id: r.status for r in store.list_runs()}
    assert "running" not in statuses.values(), "an import left a run stuck at running"
    assert refused
