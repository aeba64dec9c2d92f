from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from benchbench.agent.protocol import JobSpec, TimingPlan
from benchbench.agent.worker import run_job
from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.variants import make_variant

QUICK = TimingPlan(warmup_min_iters=2, warmup_s=0.01, min_value_s=0.002, rounds=2, values_per_round=3,
                   max_timed_s=2.0)


def _job(backend: str, artifact: str | None, **params: object) -> JobSpec:
    return JobSpec(job_key="k", workload="w", backend=backend, precision="fp32", params=dict(params),
                   artifact=artifact, timing=QUICK)


@pytest.mark.slow
def test_llm_backend_reports_ttft_prefill_and_decode(tiny_llm: ModelArtifact, cache_dir: Path,
                                                     tmp_path: Path, llm_params: dict[str, int]) -> None:
    for precision in ("fp32", "int8-dynamic", "int4"):
        v = make_variant(tiny_llm, precision, cache_dir=cache_dir, n_calibration=6, n_validation=4)
        shutil.copyfile(v.files["prefill"], tmp_path / f"{precision}-prefill.onnx")
        shutil.copyfile(v.files["decode"], tmp_path / f"{precision}-decode.onnx")
        res = run_job(_job("onnxruntime-llm", f"{precision}-prefill.onnx",
                           decode_artifact=f"{precision}-decode.onnx", new_tokens=8, generations=2,
                           intra_op_threads=1), str(tmp_path))
        assert res["status"] == "ok", res.get("reason")
        ex = res["extra"]
        assert ex["prompt_tokens"] == llm_params["seq_len"] and len(ex["generated_tokens"]) == 8
        assert ex["prefill_tok_per_s"] == ex["prompt_tokens"] / ex["ttft_s"] and ex["decode_tok_per_s"] > 0
        assert all(t >= 0 for t in ex["generated_tokens"]) and len(ex["ttft_values_s"]) == 2
        assert len(res["timing"]["rounds"]) == 2


def test_llm_backend_refuses_too_many_tokens(tiny_llm: ModelArtifact, tmp_path: Path) -> None:
    shutil.copyfile(tiny_llm.files["prefill"], tmp_path / "p.onnx")
    shutil.copyfile(tiny_llm.files["decode"], tmp_path / "d.onnx")
    res = run_job(_job("onnxruntime-llm", "p.onnx", decode_artifact="d.onnx", new_tokens=1000), str(tmp_path))
    assert res["status"] == "failed" and "does not fit" in res["reason"]


def test_ort_backend_fixed_and_npz_inputs(tmp_path: Path) -> None:
    from test_byo import silero_model

    shutil.copyfile(silero_model(), tmp_path / "vad.onnx")
    shapes = {"input": [1, 512], "state": [2, 1, 128]}
    res = run_job(_job("onnxruntime", "vad.onnx", input_shapes=shapes, fixed_inputs={"rate": 1}),
                  str(tmp_path))
    assert res["status"] == "failed" and "'rate' is not an input" in res["reason"]
    audio = np.sin(np.linspace(0, 200, 512, dtype=np.float32))[None]
    np.savez(tmp_path / "in.npz", input=np.stack([audio, audio]))
    res = run_job(_job("onnxruntime", "vad.onnx", input_shapes=shapes, fixed_inputs={"sr": 16000},
                       inputs_npz="in.npz"), str(tmp_path))
    assert res["status"] == "ok", res.get("reason")
    assert res["extra"]["inputs"]["sr"] == [[], "int64"]


def test_missing_runtimes_are_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ai-edge-litert may be installed here: hide it the way a board without it looks (the import fails)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    rk = run_job(_job("rknn", "m.rknn", inputs=[{"shape": [1, 224, 224, 3], "dtype": "uint8"}]),
                 str(tmp_path))
    assert rk["status"] == "unsupported" and "rknn-toolkit-lite2" in rk["reason"]
    lt = run_job(_job("litert", "m.tflite"), str(tmp_path))
    assert lt["status"] == "unsupported" and "ai-edge-litert" in lt["reason"]
