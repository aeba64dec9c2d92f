from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from lab.decode_step import prefill_then_decode

from benchbench.errors import ConfigError
from benchbench.workloads import flops
from benchbench.workloads.models import build_reference, cnn, decoder, inputs


def _sess(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("arch", ["mobilenetv2", "resnet18"])
def test_cnn_is_deterministic_valid_and_discriminative(arch: str) -> None:
    a = cnn.build(arch, width=0.25, resolution=64, num_classes=100, seed=3)
    b = cnn.build(arch, width=0.25, resolution=64, num_classes=100, seed=3)
    assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
    onnx.checker.check_model(a, full_check=True)
    assert a.opset_import[0].version == 21
    assert not any(n.op_type == "BatchNormalization" for n in a.graph.node)  # folded
    sess = _sess(a)
    tops = {int(sess.run(None, {"image": x})[0].argmax()) for x in inputs.images(77, 12, 3, 64, 64)}
    assert len(tops) >= 6  # the data-dependent head makes top-1 input-dependent


def test_decoder_decode_step_matches_prefill(llm_params: dict[str, int]) -> None:
    TINY_LLM = llm_params
    pre, dec = decoder.build("prefill", **TINY_LLM), decoder.build("decode", **TINY_LLM)
    for m in (pre, dec):
        onnx.checker.check_model(m, full_check=True)
    toks = inputs.token_batches(5, 1, TINY_LLM["vocab"], TINY_LLM["seq_len"])[0]
    pos = 11
    got, outs = prefill_then_decode(_sess(pre), _sess(dec), toks, pos)
    np.testing.assert_allclose(got[0][0, 0], outs[0][0, pos], atol=1e-4)
    # the decode step wrote exactly position `pos` of the cache, equal to prefill's
    np.testing.assert_allclose(got[1][:, :, : pos + 1], outs[1][:, :, : pos + 1], atol=1e-5)


def test_flops_match_closed_form(llm_params: dict[str, int]) -> None:
    c = llm_params
    s, h, f, v, layers = c["seq_len"], c["hidden"], c["ffn"], c["vocab"], c["layers"]
    expect = layers * (2 * s * h * 4 * h + 2 * s * h * f * 3 + 2 * 2 * s * s * h) + 2 * s * h * v
    assert flops.count(decoder.build("prefill", **c)).flops == expect
    m = cnn.build("resnet18", width=0.25, resolution=64, num_classes=10)
    stem = next(n for n in m.graph.node if n.op_type == "Conv")
    w = next(i for i in m.graph.initializer if i.name == stem.input[1])
    counted = flops.count(m)
    assert counted.per_op_flops["Gemm"] == flops.gemm_flops(1, 128, 10)
    assert counted.flops > flops.conv_flops(1, 3, w.dims[0], 32, 32, 7, 7)
    assert counted.params == sum(int(np.prod(i.dims)) for i in m.graph.initializer)


def test_build_reference_caches_and_rejects_bad_params(cache_dir: Path, llm_params: dict[str, int]) -> None:
    TINY_LLM = llm_params
    first = build_reference("decoder", TINY_LLM, cache_dir)
    mtimes = {r: p.stat().st_mtime_ns for r, p in first.files.items()}
    again = build_reference("decoder", TINY_LLM, cache_dir)
    assert again.from_cache and again.sha256 == first.sha256
    assert {r: p.stat().st_mtime_ns for r, p in again.files.items()} == mtimes
    assert set(first.files) == {"prefill", "decode"}
    with pytest.raises(ConfigError, match="unknown parameter"):
        build_reference("resnet18", {"depth": 50}, cache_dir)
    with pytest.raises(ConfigError, match="unknown reference model"):
        build_reference("vgg16", {}, cache_dir)


@pytest.mark.slow
def test_full_size_models_build(tmp_path: Path) -> None:
    for name, gflops in (("mobilenetv2", 0.60), ("resnet18", 3.63), ("decoder", 4.70)):
        art = build_reference(name, {}, tmp_path)
        assert abs(art.flops / 1e9 - gflops) < 0.02
        onnx.checker.check_model(str(art.path))
