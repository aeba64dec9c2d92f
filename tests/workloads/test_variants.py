from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from benchbench.errors import ConfigError
from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.variants import make_variant

FAST = {"n_calibration": 6, "n_validation": 4}


def test_cnn_variants_validate_and_show_their_ops(tiny_cnn: ModelArtifact, cache_dir: Path) -> None:
    fp32 = make_variant(tiny_cnn, "fp32", cache_dir=cache_dir, **FAST)
    assert fp32.status == "ok"
    assert fp32.validation["main"]["fidelity"]["cosine_min"] > 0.9999
    fp16 = make_variant(tiny_cnn, "fp16", cache_dir=cache_dir, **FAST)
    assert fp16.status == "ok" and fp16.size_bytes < 0.6 * fp32.size_bytes
    assert fp16.validation["main"]["fp16_weight_fraction"] > 0.9
    assert fp16.validation["main"]["fidelity"]["sqnr_db"] > 20  # harsh: logits are centred features
    int8 = make_variant(tiny_cnn, "int8-static", target_arch="x86_64", cache_dir=cache_dir, **FAST)
    assert int8.status == "ok", int8.reason
    val = int8.validation["main"]
    assert val["quantized_compute_ops"] > 0  # ORT fused the QDQ graph into integer kernels
    assert int8.size_bytes < 0.4 * fp32.size_bytes
    assert int8.recipe["arch_class"] == "x86" and int8.extra["tool"]["flavour"] == "U8S8"
    sidecar = json.loads((int8.path.parent / "artifact.json").read_text())
    assert sidecar["recipe"]["precision"] == "int8-static" and "onnxruntime" in sidecar["tool_versions"]


def test_int8_flavour_follows_target_arch(tiny_cnn: ModelArtifact, cache_dir: Path) -> None:
    arm = make_variant(tiny_cnn, "int8-static", target_arch="aarch64", cache_dir=cache_dir, **FAST)
    x86 = make_variant(tiny_cnn, "int8-static", target_arch="x86_64", cache_dir=cache_dir, **FAST)
    assert arm.path != x86.path and arm.extra["tool"]["flavour"] == "S8S8"

    def activation_zero_points(path: Path) -> set[int]:
        m = onnx.load(str(path))
        q = [n for n in m.graph.node if n.op_type == "QuantizeLinear"]
        inits = {i.name: i for i in m.graph.initializer}
        return {inits[n.input[2]].data_type for n in q if len(n.input) > 2}

    assert activation_zero_points(arm.path) == {onnx.TensorProto.INT8}
    assert activation_zero_points(x86.path) == {onnx.TensorProto.UINT8}


def test_precisions_that_do_not_apply_are_rows_with_a_reason(tiny_cnn: ModelArtifact,
                                                             cache_dir: Path) -> None:
    # decided on the graph the quantizer sees: the pre-processed CNN has Conv and Gemm, no weight MatMul
    for p in ("int8-dynamic", "int4"):
        v = make_variant(tiny_cnn, p, cache_dir=cache_dir, **FAST)
        assert v.status == "not-applicable" and v.reason and "MatMul" in v.reason, (p, v.reason)
        assert not v.files
    with pytest.raises(ConfigError, match="unknown precision"):
        make_variant(tiny_cnn, "int3", cache_dir=cache_dir)


def test_llm_variants_all_precisions(tiny_llm: ModelArtifact, cache_dir: Path) -> None:
    results = {p: make_variant(tiny_llm, p, cache_dir=cache_dir, **FAST)
               for p in ("fp32", "fp16", "int8-static", "int8-dynamic", "int4")}
    for p, v in results.items():
        assert v.status == "ok", (p, v.reason)
        assert set(v.files) == {"prefill", "decode"}
        for role in ("prefill", "decode"):
            fid = v.validation[role]["fidelity"]
            assert fid["cosine_mean"] > 0.95, (p, role, fid)
    assert results["int4"].validation["decode"]["precision_ops"]["com.microsoft.MatMulNBits"] > 0
    assert results["int4"].size_bytes < 0.6 * results["fp32"].size_bytes
    assert results["int8-dynamic"].validation["prefill"]["quantized_compute_ops"] > 0
    # per-token agreement is over every prefill position of every validation sequence
    assert results["fp16"].validation["prefill"]["fidelity"]["top1_positions"] == 4 * 16


def test_second_call_regenerates_nothing(tiny_llm: ModelArtifact, cache_dir: Path) -> None:
    first = make_variant(tiny_llm, "int4", cache_dir=cache_dir, **FAST)
    mtimes = {p: p.stat().st_mtime_ns for p in first.path.parent.iterdir()}
    again = make_variant(tiny_llm, "int4", cache_dir=cache_dir, **FAST)
    assert again.from_cache and again.sha256 == first.sha256 and again.validation == first.validation
    assert {p: p.stat().st_mtime_ns for p in again.path.parent.iterdir()} == mtimes
    other = make_variant(tiny_llm, "int4", cache_dir=cache_dir, n_calibration=6, n_validation=3)
    assert not other.from_cache and other.path.parent != first.path.parent  # recipe is part of the key


def test_failed_generation_is_recorded_not_raised(tmp_path: Path, cache_dir: Path,
                                                  tiny_cnn: ModelArtifact) -> None:
    # a model whose fp32 graph ORT cannot load: the variant is stored as failed with the reason
    broken = tmp_path / "main.onnx"
    m = onnx.load(str(tiny_cnn.path))
    m.graph.node[0].op_type = "NoSuchOp"
    onnx.save(m, str(broken))
    fake = ModelArtifact(name="broken", kind="cnn", params=tiny_cnn.params, files={"main": broken},
                         sha256="0" * 64, meta=tiny_cnn.meta, flops=0, size_bytes=1)
    v = make_variant(fake, "fp32", cache_dir=cache_dir, **FAST)
    assert v.status == "failed" and v.reason and "fp32/none" in v.reason
    assert make_variant(fake, "fp32", cache_dir=cache_dir, **FAST).from_cache
