from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from lab.decode_step import prefill_then_decode

from benchbench.errors import ConfigError
from benchbench.workloads import pruning
from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.models import cnn, decoder, inputs
from benchbench.workloads.variants import make_variant

FAST = {"n_calibration": 6, "n_validation": 4}


def test_unstructured_hits_the_sparsity_and_shrinks_zlib_size() -> None:
    m = cnn.build("resnet18", width=0.25, resolution=64, num_classes=10)
    pruned, info = pruning.prune(m, "unstructured-50")
    assert abs(info["sparsity"] - 0.5) < 0.005
    assert info["params_after"] == info["params_before"]  # shapes unchanged
    assert info["flops_after"] == info["flops_before"]  # dense kernels do the same work
    assert info["nonzero_params_after"] < 0.6 * info["params_before"]
    assert info["zlib_bytes_after"] < 0.8 * info["zlib_bytes_before"]
    w = next(i for i in pruned.graph.initializer if i.name == "fc.W")
    assert np.mean(onnx.numpy_helper.to_array(w) == 0) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("arch", ["mobilenetv2", "resnet18"])
def test_structured_cnn_slices_channels_in_multiples_of_8(arch: str) -> None:
    m = cnn.build(arch, width=0.5, resolution=64, num_classes=10)
    pruned, info = pruning.prune(m, "structured-50")
    assert 0.3 < info["flops_after"] / info["flops_before"] < 0.75
    assert info["params_after"] < info["params_before"]
    onnx.checker.check_model(pruned, full_check=True)
    for g in pruning.read_meta(pruned)["prune_groups"]:
        assert g["size"] % 8 == 0
    sess = ort.InferenceSession(pruned.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": inputs.images(1, 1, 3, 64, 64)[0]})[0]
    assert out.shape == (1, 10) and np.isfinite(out).all()


def test_structured_decoder_removes_whole_heads_and_mlp_units(llm_params: dict[str, int]) -> None:
    pre, dec = decoder.build("prefill", **llm_params), decoder.build("decode", **llm_params)
    p_pre, info = pruning.prune(pre, "structured-50")
    p_dec, _ = pruning.prune(dec, "structured-50")
    heads = llm_params["heads"] // 2
    cache_dims = [d.dim_value for d in p_dec.graph.input[2].type.tensor_type.shape.dim]
    assert cache_dims[1] == heads
    assert info["flops_after"] < 0.7 * info["flops_before"]
    sp = ort.InferenceSession(p_pre.SerializeToString(), providers=["CPUExecutionProvider"])
    sd = ort.InferenceSession(p_dec.SerializeToString(), providers=["CPUExecutionProvider"])
    toks = inputs.token_batches(2, 1, llm_params["vocab"], llm_params["seq_len"])[0]
    pos = 9
    got, outs = prefill_then_decode(sp, sd, toks, pos)
    np.testing.assert_allclose(got[0][0, 0], outs[0][0, pos], atol=1e-4)  # both graphs pruned identically


def test_bad_specs_and_models_without_groups() -> None:
    with pytest.raises(ConfigError, match="pruning"):
        pruning.parse_spec("structured-150")
    with pytest.raises(ConfigError, match="pruning"):
        pruning.parse_spec("random-50")
    m = cnn.build("resnet18", width=0.25, resolution=32, num_classes=10)
    pruning.write_meta(m, {"name": "x"})
    with pytest.raises(ConfigError, match="prune groups"):
        pruning.prune(m, "structured-25")


@pytest.mark.slow
def test_prune_then_quantize(tiny_cnn: ModelArtifact, tiny_llm: ModelArtifact, cache_dir: Path) -> None:
    v = make_variant(tiny_cnn, "int8-static", pruning="structured-25", cache_dir=cache_dir, **FAST)
    assert v.status == "ok", v.reason
    info = v.extra["pruning"]["main"]
    assert info["flops_after"] < info["flops_before"] and v.flops == info["flops_after"]
    dense = make_variant(tiny_cnn, "int8-static", cache_dir=cache_dir, **FAST)
    assert v.size_bytes < dense.size_bytes
    u = make_variant(tiny_llm, "int4", pruning="unstructured-50", cache_dir=cache_dir, **FAST)
    assert u.status == "ok", u.reason
    assert u.extra["pruning"]["decode"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    s = make_variant(tiny_llm, "int8-dynamic", pruning="structured-50", cache_dir=cache_dir, **FAST)
    assert s.status == "ok", s.reason
    assert 0 < s.validation["decode"]["fidelity"]["cosine_mean"] < 1
