"""Bad input: one line naming the file and key, exit 2, no traceback, nothing stored is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchbench.results.store import Store

CASES = {
    "unknown-workload": ("name: x\njobs:\n  - workload: warp_drive\n", "jobs[0].workload",
                         "unknown workload"),
    "malformed-yaml": ("name: x\njobs: [\n  - workload: gemm\n", "line", "malformed YAML"),
    "mistyped": ("name: x\njobs:\n  - workload: gemm\n    precisions: fp32\n", "jobs[0].precisions",
                 "valid list"),
    "unknown-key": ("name: x\njobs:\n  - workload: gemm\n    sizes: {m: 1}\n", "jobs[0].sizes",
                    "unknown key"),
    "non-numeric-size": ("name: x\njobs:\n  - workload: gemm\n    params: {m: 64, k: big, n: 64}\n",
                         "jobs[0].params.k", "valid integer"),
    "bad-precision": ("name: x\njobs:\n  - workload: triad\n    precisions: [int4]\n",
                      "jobs[0].precisions[0]", "does not apply"),
    "negative-size": ("name: x\njobs:\n  - workload: gemm\n    params: {m: -4}\n", "jobs[0].params.m",
                      "greater than 0"),
    "timing-typo": ("name: x\ntiming: {round: 3}\njobs:\n  - workload: gemm\n", "timing.round",
                    "unknown key"),
}


def _one_clean_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("  hint:")]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, bb_cache: Path, tiny_suite_text: str) -> tuple[Path,
                                                                                                       str]:
    """One stored run that every bad-input case must leave intact."""
    import os
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("seeded")
    (d / "tiny.yaml").write_text(tiny_suite_text)
    env = dict(os.environ, BENCHBENCH_CACHE=str(bb_cache))
    res = subprocess.run([sys.executable, "-m", "benchbench", "run", "--suite", "tiny.yaml", "--db",
                          "keep.db", "--json", "--no-report"], env=env, cwd=d, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    return d / "keep.db", json.loads(res.stdout)["run_id"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_suite_gives_one_line_with_file_and_key(case, tmp_path: Path, bb, bb_env, seeded_db):
    text, key, words = CASES[case]
    suite = tmp_path / f"{case}.yaml"
    suite.write_text(text)
    before = Store(seeded_db[0]).load_run(seeded_db[1])
    res = bb("run", "--suite", str(suite), "--db", str(seeded_db[0]), env=bb_env, cwd=tmp_path)
    assert res.returncode == 2
    line = _one_clean_line(res.stderr)
    assert str(suite) in line and key in line and words in line
    after = Store(seeded_db[0])
    assert [r.run_id for r in after.list_runs()] == [seeded_db[1]]
    assert len(after.load_run(seeded_db[1]).jobs) == len(before.jobs)


def test_missing_suite_file(tmp_path: Path, bb, bb_env):
    res = bb("run", "--suite", "nope.yaml", "--db", "x.db", env=bb_env, cwd=tmp_path)
    assert res.returncode == 2
    assert "nope.yaml: file not found" in _one_clean_line(res.stderr)


def test_unwritable_db_path(tmp_path: Path, bb, bb_env, tiny_suite):
    res = bb("run", "--suite", str(tiny_suite), "--db", "/proc/nonexistent/dir/x.db", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 2
    line = _one_clean_line(res.stderr)
    assert "cannot open results database" in line and "/proc/nonexistent/dir/x.db" in line


def test_report_of_unknown_run(tmp_path: Path, bb, bb_env, seeded_db):
    res = bb("report", "--db", str(seeded_db[0]), "--run", "no-such-run", env=bb_env, cwd=tmp_path)
    assert res.returncode == 2
    assert "no run 'no-such-run'" in _one_clean_line(res.stderr)


def test_debug_shows_traceback(tmp_path: Path, bb, bb_env):
    res = bb("--debug", "run", "--suite", "nope.yaml", "--db", "x.db", env=bb_env, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" in res.stderr
