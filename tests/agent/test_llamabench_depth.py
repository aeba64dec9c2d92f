"""The llama.cpp backend with llama-bench alone (no llama-cpp-python) says at which depth tg ran: after the
``n_prompt``-token context (``-d 0,N``) or, on a build without ``-d``, from position 0 — in
``extra["llama_bench"]["tg_depth"]``, the decode window and the record's timed window. A fake llama-bench
(``-o json`` rows like the real one's) stands in for the binary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from benchbench.agent.protocol import JobSpec, TimingPlan
from benchbench.agent.worker import run_job

FAKE = """#!{python}
import json, sys
argv = sys.argv[1:]
if "--help" in argv:
    print("-fa, --flash-attn <on|off|auto>")
    sys.exit(0)
if "-d" in argv and {no_depth}:
    sys.stderr.write("error: invalid parameter for argument: -d\\n")
    sys.exit(1)
p, n = int(argv[argv.index("-p") + 1]), int(argv[argv.index("-n") + 1])
depths = [int(d) for d in argv[argv.index("-d") + 1].split(",")] if "-d" in argv else [0]
rows = []
for kind_p, kind_n in ((p, 0), (0, n)):
    for d in depths:
        ns = 1000000 * (kind_p + kind_n) + 1000 * d  # deeper tg is slower
        rows.append({{"n_prompt": kind_p, "n_gen": kind_n, "n_depth": d, "samples_ns": [ns] * 3,
                     "avg_ts": 1e9 * (kind_p + kind_n) / ns, "build_commit": "fake", "backends": "CPU"}})
print(json.dumps(rows))
"""


def _job(tmp_path: Path, no_depth: bool) -> JobSpec:
    exe = tmp_path / "llama-bench"
    exe.write_text(FAKE.format(python=sys.executable, no_depth=no_depth))
    exe.chmod(0o755)
    return JobSpec(job_key="k", workload="llm-gguf", backend="llama.cpp", precision="f16", artifact="m.gguf",
                   params={"n_prompt": 32, "n_gen": 16, "threads": 1, "llama_bench": str(exe)},
                   timing=TimingPlan(rounds=3))


@pytest.mark.parametrize("no_depth, depth, where", [
    (False, 32, "after a 32-token context"),
    (True, 0, "from position 0 (this llama-bench has no -d)"),
])
def test_tg_depth_in_extra_and_both_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_depth: bool,
                                            depth: int, where: str) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # this board's Python has no llama-cpp-python
    res: dict[str, Any] = run_job(_job(tmp_path, no_depth), str(tmp_path))
    assert res["status"] == "ok", res
    e = res["extra"]
    assert e["llama_bench"]["tg_depth"] == depth
    assert ("-d" in e["llama_bench"]["argv"]) is not no_depth
    assert where in e["decode_window"] and where in res["timed_window"]
    assert "position 0" not in res["timed_window"] or no_depth
    assert "timed_window" not in e  # moved to the record, not kept twice
    # the deepest tg row's samples: 16 decode steps of (16e6 + 1000 * depth) ns in all
    assert res["timing"]["rounds"][0]["values_s"] == pytest.approx([(16e6 + 1000 * depth) / 1e9 / 16] * 3)
