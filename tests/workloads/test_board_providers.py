"""Execution providers chosen by the device profile: the profile's preference reaches the agent's ORT jobs,
the agent uses what exists (recording a CPU fallback, or refusing when the suite requires the provider),
reports which nodes ran on which provider, and the summary turns a fallback into a warning."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from lab.suites import suite_yaml

from benchbench.agent.protocol import JobResult, JobSpec, TimingPlan
from benchbench.agent.worker import run_job
from benchbench.config.profiles import DEFAULT_DEVICE_DIR, list_profiles, load_profile_file
from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.ingest.metrics import job_metrics
from benchbench.pipeline import BoardTarget, Run, RunPlan, new_run_id
from benchbench.results.store import Store
from benchbench.transport.local import LocalTransport
from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.providers import with_board_providers
from benchbench.workloads.registry import expand
from benchbench.workloads.variants import make_variant

QUICK = TimingPlan(warmup_min_iters=2, warmup_s=0.01, min_value_s=0.002, rounds=2, values_per_round=3,
                   max_timed_s=2.0)
CPU = "CPUExecutionProvider"
GPU_PREF = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]
# this test machine's onnxruntime is the CPU build: a GPU preference must fall back
assert "CUDAExecutionProvider" not in ort.get_available_providers()


def _job(backend: str, artifact: str, **params: object) -> JobSpec:
    return JobSpec(job_key="k", workload="w", backend=backend, precision="fp32", params=dict(params),
                   artifact=artifact, timing=QUICK)


def test_profiles_declare_provider_preference() -> None:
    got = {p.name: p.execution_providers for p in list_profiles()}
    assert len(got) >= 10
    for name, providers in got.items():
        if name.startswith("jetson-") or name == "nvidia-gpu":
            assert providers == tuple(GPU_PREF), name
        elif name.startswith("ascend-"):
            assert providers == ("CANNExecutionProvider", CPU), name
        else:
            assert providers == (CPU,), name


def test_profile_rejects_a_provider_that_is_not_a_provider_name(tmp_path: Path) -> None:
    text = (DEFAULT_DEVICE_DIR / "pi5.yaml").read_text().replace("[CPUExecutionProvider]", "[CUDA]")
    (tmp_path / "pi5.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_profile_file(tmp_path / "pi5.yaml")
    assert "execution_providers" in str(err.value) and "CUDA" in str(err.value)


def test_board_preference_reaches_ort_jobs_only() -> None:
    ort_job = _job("onnxruntime", "m.onnx", intra_op_threads=1)
    sent = with_board_providers(ort_job, tuple(GPU_PREF))
    assert sent.params["providers"] == GPU_PREF and sent.job_key == ort_job.job_key
    assert "providers" not in ort_job.params  # the planned job (stored params) is untouched
    numpy_job = _job("numpy", "x")
    assert with_board_providers(numpy_job, tuple(GPU_PREF)) is numpy_job
    suite_chose = _job("onnxruntime-llm", "p.onnx", providers=[CPU])
    assert with_board_providers(suite_chose, tuple(GPU_PREF)).params["providers"] == [CPU]
    assert with_board_providers(ort_job, None) is ort_job


def _optimized_op_counts(path: Path, out: Path) -> dict[str, int]:
    so = ort.SessionOptions()
    so.optimized_model_filepath = str(out)
    ort.InferenceSession(str(path), sess_options=so, providers=[CPU])
    counts: dict[str, int] = {}
    for node in onnx.load(str(out)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _profile_dirs() -> set[str]:
    return {d for d in os.listdir(tempfile.gettempdir()) if d.startswith("bb-ortprof-")}


def test_ort_cpu_fallback_is_recorded_with_node_placement(tiny_cnn: ModelArtifact, cache_dir: Path,
                                                         tmp_path: Path) -> None:
    v = make_variant(tiny_cnn, "fp32", cache_dir=cache_dir, n_calibration=4, n_validation=2)
    shutil.copyfile(v.files["main"], tmp_path / "cnn.onnx")
    before = _profile_dirs()
    res = run_job(_job("onnxruntime", "cnn.onnx", providers=GPU_PREF, intra_op_threads=1), str(tmp_path))
    assert res["status"] == "ok", res.get("reason")
    ex = res["extra"]
    assert ex["providers_requested"] == GPU_PREF and ex["providers_used"] == [CPU]
    assert ex["providers_available"] == ort.get_available_providers()
    assert ex["provider_fallback"] is True and ex["providers_note"].startswith("CPU FALLBACK")
    assert "TensorrtExecutionProvider, CUDAExecutionProvider" in ex["providers_note"]
    # every node of the optimized graph is counted once, on the provider that ran it
    assert set(ex["node_placement"]) == {CPU}
    assert ex["node_placement"][CPU] == _optimized_op_counts(tmp_path / "cnn.onnx", tmp_path / "opt.onnx")
    assert _profile_dirs() == before  # the profile file is deleted
    assert not list(tmp_path.glob("*.json"))
    assert res["implementation"].endswith(CPU)


def test_required_provider_makes_the_job_unsupported(tiny_cnn: ModelArtifact, tmp_path: Path) -> None:
    shutil.copyfile(tiny_cnn.files["main"], tmp_path / "cnn.onnx")
    res = run_job(_job("onnxruntime", "cnn.onnx", providers=["CUDAExecutionProvider", CPU],
                       require_providers=True), str(tmp_path))
    assert res["status"] == "unsupported"
    assert "CUDAExecutionProvider required by the suite" in res["reason"] and CPU in res["reason"]
    plain = run_job(_job("onnxruntime", "cnn.onnx", intra_op_threads=1), str(tmp_path))
    assert plain["status"] == "ok" and plain["extra"]["provider_fallback"] is False
    assert "providers_note" not in plain["extra"] and plain["extra"]["node_placement"][CPU]


def test_llm_backend_uses_the_preference_and_places_decode_nodes(tiny_llm: ModelArtifact,
                                                                 tmp_path: Path) -> None:
    shutil.copyfile(tiny_llm.files["prefill"], tmp_path / "p.onnx")
    shutil.copyfile(tiny_llm.files["decode"], tmp_path / "d.onnx")
    res = run_job(_job("onnxruntime-llm", "p.onnx", decode_artifact="d.onnx", new_tokens=4, generations=1,
                       intra_op_threads=1, providers=["CUDAExecutionProvider", CPU]), str(tmp_path))
    assert res["status"] == "ok", res.get("reason")
    ex = res["extra"]
    assert ex["provider_fallback"] is True and ex["providers_used"] == [CPU]
    assert ex["node_placement"][CPU].get("MatMul", 0) > 0
    failed = run_job(_job("onnxruntime-llm", "p.onnx", decode_artifact="d.onnx", require_providers=True,
                          providers=["CUDAExecutionProvider"]), str(tmp_path))
    assert failed["status"] == "unsupported" and "CUDAExecutionProvider" in failed["reason"]


def _result(requested: list[str], used: list[str]) -> dict[str, object]:
    values = [0.002 + 1e-6 * i for i in range(12)]
    return {"job_key": "k", "status": "ok", "timing": {"number": 1, "values_s": values,
                                                       "rounds": [{"values_s": values}]},
            "extra": {"providers_requested": requested, "providers_used": used}}


def test_summary_warns_about_an_accelerator_fallback() -> None:
    _, warns = job_metrics(JobResult.from_dict(_result(GPU_PREF, [CPU])), {})
    fb = [w for w in warns if w.code == "accelerator-fallback"]
    assert len(fb) == 1 and "TensorrtExecutionProvider" in fb[0].message and "CPU" in fb[0].message
    for requested, used in (([CPU], [CPU]), (GPU_PREF, ["CUDAExecutionProvider", CPU]), ([], [CPU])):
        _, warns = job_metrics(JobResult.from_dict(_result(requested, used)), {})
        assert not [w for w in warns if w.code == "accelerator-fallback"]


SUITE = suite_yaml("providers", """\
  - workload: conv3x3
    precisions: [fp32]
    params: {batch: 1, channels: 8, height: 16, width: 16}
  - workload: triad
    precisions: [fp64]
    params: {n: 10000}
""", families="[memory]")


def test_pipeline_sends_the_board_preference_and_stores_the_suite_params(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SUITE)
    suite = load_suite(tmp_path / "s.yaml")
    jobs = expand(suite, str(tmp_path / "s.yaml"), tmp_path / "cache" / "artifacts")
    board = BoardTarget(name="gpuish", connect=LocalTransport, python=sys.executable,
                        work_dir=str(tmp_path / "board"), sampling_families=("memory",),
                        profile_facts={"profile": "nvidia-gpu"}, providers=tuple(GPU_PREF))
    store = Store(tmp_path / "r.db")
    plan = RunPlan(run_id=new_run_id(), resuming=False, suite=suite, suite_file=str(tmp_path / "s.yaml"),
                   suite_hash="h", targets=(board,), jobs={board.name: jobs})
    run = Run(store, plan, tmp_path / "cache")
    outcome, = run.execute()
    assert outcome.error is None and outcome.statuses == {"ok": 2}
    stored = {j.workload: j for j in store.load_run(run.run_id).jobs}
    conv, triad = stored["conv3x3"], stored["triad"]
    planned = {j.spec.workload: j.spec for j in jobs}
    assert conv.job_key == planned["conv3x3"].job_key and conv.params == planned["conv3x3"].params
    assert "providers" not in conv.params
    assert conv.details["extra"]["providers_requested"] == GPU_PREF
    assert conv.details["extra"]["node_placement"][CPU]["Conv"] == 1
    assert "accelerator-fallback" in {w.code for w in conv.warnings}
    assert "providers_requested" not in triad.details["extra"]


def test_model_entry_may_require_providers_and_keeps_its_own_list(tiny_cnn: ModelArtifact, cache_dir: Path,
                                                                   tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "name: m\njobs:\n  - workload: mobilenetv2\n    precisions: [fp32]\n"
        "    params: {width: 0.35, resolution: 64, num_classes: 100, calibration_samples: 4,"
        " validation_samples: 2, providers: [CUDAExecutionProvider], require_providers: true}\n")
    job, = expand(load_suite(tmp_path / "m.yaml"), str(tmp_path / "m.yaml"), cache_dir)
    sent = with_board_providers(job.spec, tuple(GPU_PREF))
    assert sent.params["providers"] == ["CUDAExecutionProvider"] and sent.params["require_providers"] is True
    assert job.artifact_path is not None
    shutil.copyfile(job.artifact_path, tmp_path / job.artifact_path.name)
    res = run_job(sent, str(tmp_path))
    assert res["status"] == "unsupported" and "CUDAExecutionProvider required by the suite" in res["reason"]
