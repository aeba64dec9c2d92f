"""Every bad input (badinput_cases.py, 150+ cases across suite, fleet, --db, model and the report / compare /
import / export / history / publish / resume flags): exit 2, one line naming the file and the key or flag,
no traceback, and the stored runs untouched (the database file byte for byte, and the run as loaded).

The CLI runs in-process (``benchbench.cli.main.main``, the same click entry point the console script calls)
so the table stays fast; a handful of cases also run as real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from badinput_cases import CASES, PB_OK, Case

from benchbench.cli.main import main
from benchbench.ingest.pytest_json import import_pytest_benchmark
from benchbench.results.records import JobRecord, Metric
from benchbench.results.store import Store

SEED_RUN = "20240101T000000Z-seed"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_clean_line(stderr: str) -> str:
    """The single error line (an indented hint line may follow it)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if not ln.startswith("  hint:")]
    assert len(lines) == 1 and lines[0].startswith("benchbench: error: "), stderr
    return lines[0]


def seed_store(path: Path, tmp: Path) -> tuple[str, str]:
    """A native-looking run and an imported pytest-benchmark run (no job in common)."""
    store = Store(path)
    store.create_run(SEED_RUN, "seed", None, None, "0", {"hostname": "h"}, {"invocation": {}, "jobs": {}})
    store.record_board(SEED_RUN, "local", {"hostname": "h"}, status="complete")
    store.add_job(JobRecord(
        run_id=SEED_RUN, board="local", job_key="gemm|numpy|fp32|none|{}", workload="gemm", backend="numpy",
        precision="fp32", pruning="none", params={"m": 8}, status="ok", implementation="np.matmul",
        timed_window="matmul", metrics=(Metric("latency.p50", 0.001, "s"),),
        raw={"latency_rounds": [{"t_start_ns": 0, "t_end_ns": 1, "values_s": [0.001, 0.0011, 0.0009]}]}))
    store.finish_run(SEED_RUN, "complete")
    (tmp / "seed-pb.json").write_text(json.dumps(PB_OK))
    other, _ = import_pytest_benchmark(store, tmp / "seed-pb.json", "ci")
    store.engine.dispose()
    return SEED_RUN, other


def _model(path: Path) -> Path:
    """A tiny ONNX model: x [N, 8] float → Relu → y (N dynamic, 8 fixed)."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("seeded")
    db = d / "keep.db"
    run, other = seed_store(db, d)
    store = Store(db, readonly=True)
    return {"db": db, "run": run, "other": other, "model": _model(d / "model.onnx"), "cache": d / "cache",
            "loaded": (store.load_run(run), store.load_run(other)), "sha": _sha(db)}


def _write_files(case: Case, d: Path) -> None:
    for name, content in case.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if content == "@foreign":
            with sqlite3.connect(p) as c:
                c.execute("create table runs (id integer primary key, title text)")
                c.execute("create table notes (body text)")
                c.execute("insert into runs (title) values ('mine')")
            c.close()
        elif content == "@pb":
            p.write_text(json.dumps(PB_OK))
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def _argv(case: Case, d: Path, seeded: dict[str, object]) -> list[str]:
    subs = {"{d}": str(d), "{db}": str(seeded["db"]), "{run}": str(seeded["run"]),
            "{other}": str(seeded["other"]), "{model}": str(seeded["model"])}
    out = []
    for a in case.argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def _assert_intact(seeded: dict[str, object], d: Path) -> None:
    db = seeded["db"]
    assert isinstance(db, Path)
    assert _sha(db) == seeded["sha"], "the stored runs' database changed"
    store = Store(db, readonly=True)
    assert (store.load_run(str(seeded["run"])), store.load_run(str(seeded["other"]))) == seeded["loaded"]
    assert [r.run_id for r in store.list_runs()] == [str(seeded["run"]), str(seeded["other"])] or \
        sorted(r.run_id for r in store.list_runs()) == sorted([str(seeded["run"]), str(seeded["other"])])
    store.engine.dispose()
    foreign = d / "foreign.db"
    if foreign.exists():  # a foreign database is never given our tables
        with sqlite3.connect(foreign) as c:
            names = {r[0] for r in c.execute("select name from sqlite_master where type='table'")}
        c.close()
        assert names == {"runs", "notes"}
    assert not (d / "missing.db").exists(), "a read command created the database file"


def _params() -> list[object]:
    # not run: a known-open case may do real work (a huge GEMM runs until its timeout) and store a run
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, run=False)] if c.xfail else [])
            for c in CASES]


def test_the_table_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, seeded: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHBENCH_CACHE", str(seeded["cache"]))
    monkeypatch.setenv("COLUMNS", "200")
    _write_files(case, tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(_argv(case, tmp_path, seeded), prog_name="benchbench")
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2, f"exit {exit_info.value.code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out
    line = one_clean_line(err)
    for fragment in case.fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    _assert_intact(seeded, tmp_path)


SUBPROCESS_CASES = ("suite-non-utf8", "fleet-known-hosts-binary", "db-mysql-report", "import-data-strings",
                    "resume-traversal", "import-run-existing")


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_bad_input_as_a_real_process(case_id: str, seeded: dict[str, object], tmp_path: Path, bb,
                                     bb_env: dict[str, str]) -> None:
    case = next(c for c in CASES if c.id == case_id)
    _write_files(case, tmp_path)
    res = bb(*_argv(case, tmp_path, seeded), env=bb_env, cwd=tmp_path, timeout=120)
    assert res.returncode == 2, res.stderr
    line = one_clean_line(res.stderr)
    assert all(f in line for f in case.fragments), line
    _assert_intact(seeded, tmp_path)


def test_debug_shows_the_traceback(seeded: dict[str, object], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_bytes(b"name: \xff\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--debug", "run", "--suite", "s.yaml", "--db", str(seeded["db"])], prog_name="benchbench")
    assert exit_info.value.code == 2
    assert "Traceback" in capsys.readouterr().err
