"""llama-bench's ``-o json`` parsed from a real capture, and the llama.cpp backend on a board whose Python has
no llama-cpp-python but has llama-bench (then llama-bench is the measurement).

tests/data/llama-bench/tiny-llama-q4_0-p64-n32.json is verbatim stdout of llama.cpp's llama-bench
(build 0c1e570, the llama.cpp vendored by llama-cpp-python 0.3.36, built by scripts/setup-llama-cpp.sh) on
benchbench's reference GGUF at q4_0: ``llama-bench -m M -p 64 -n 32 -t 2 -b 2048 -ub 512 -ngl 99 -fa auto -r 3
-o json`` on a contended 2-core machine (hence the spread between repetitions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchbench.agent.backends import llamabench

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "llama-bench" / "tiny-llama-q4_0-p64-n32.json"


def test_parses_real_llama_bench_json() -> None:
    res = llamabench.parse(FIXTURE.read_text())
    pp, tg = res["pp"], res["tg"]
    assert (pp["n_prompt"], pp["n_gen"], tg["n_prompt"], tg["n_gen"]) == (64, 0, 0, 32)
    assert len(tg["samples_ns"]) == len(tg["samples_ts"]) == 3
    # avg_ts is llama-bench's mean of the per-repetition tokens/s, not tokens / mean time
    assert tg["avg_ts"] == pytest.approx(sum(tg["samples_ts"]) / 3, rel=1e-4)
    assert tg["samples_ts"][0] == pytest.approx(32 / (tg["samples_ns"][0] / 1e9), rel=1e-3)
    b = res["build"]
    assert b["build_commit"] == "0c1e570" and b["backends"] == "CPU" and b["n_threads"] == 2
    assert b["model_type"] == "llama ?B Q4_0" and b["flash_attn"] == -1


def test_rejects_what_is_not_llama_bench_json() -> None:
    for text in ("", "error: failed to load model", "[]", '[{"n_prompt": 1}]', "{}"):
        with pytest.raises(ValueError):
            llamabench.parse(text)
    # progress lines on stdout before the array (older builds) are skipped
    assert llamabench.parse("llama-bench: loading\n" + FIXTURE.read_text())["tg"]["n_gen"] == 32


def test_find_prefers_params_then_env_then_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "my-llama-bench"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(llamabench.ENV_VAR, raising=False)
    assert llamabench.find({}) is None
    monkeypatch.setenv(llamabench.ENV_VAR, str(exe))
    assert llamabench.find({}) == str(exe)
    assert llamabench.find({"llama_bench": False}) is None
    assert llamabench.find({"llama_bench": str(tmp_path / "absent")}) == str(exe)


@pytest.mark.skipif(shutil.which("llama-bench") is None, reason="llama-bench is not on PATH "
                    "(scripts/setup-llama-cpp.sh builds it; .ci/setup runs that)")
def test_board_with_llama_bench_only(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason="the gguf package writes the model (pip install '.[llm]')")
    from benchbench.workloads import gguf_models

    model, _ = gguf_models.build_reference({"layers": 1}, 0, tmp_path)
    # this board's Python has no llama-cpp-python
    code = ("import json, sys; sys.modules['llama_cpp'] = None\n"
            "from dataclasses import asdict\n"
            "from benchbench.agent.backends import prepare\n"
            "from benchbench.agent.protocol import JobSpec, TimingPlan\n"
            "job = JobSpec(job_key='k', workload='llm-gguf', backend='llama.cpp', precision='f16', "
            f"artifact={model.name!r}, params={{'n_prompt': 32, 'n_gen': 16, 'threads': 2}}, "
            "timing=TimingPlan(rounds=3))\n"
            f"p = prepare(job, {str(model.parent)!r})\n"
            "t, mem, extra = p.run_self(0.0)\n"
            "print(json.dumps({'impl': p.implementation, 'window': p.timed_window, 'timing': asdict(t),"
            " 'mem': mem, 'extra': extra}))\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    timeout=120, check=True).stdout)
    assert "llama-bench" in out["impl"] and "no llama-cpp-python" in out["impl"]
    assert out["timing"]["number"] == 16 and len(out["timing"]["rounds"][0]["values_s"]) == 3
    e = out["extra"]
    assert e["llama_bench"]["tg_tok_per_s"] > 0 and e["prefill_tok_per_s"] > 0 and e["ttft_s"] > 0
    assert "-p" in e["llama_bench"]["argv"] and e["llama_bench"]["build"]["backends"] == "CPU"
    assert out["mem"]["peak_rss_bytes"] > 0
