"""Torch reference models agree with the ONNX references at fp32 (every output), and the torch variant makers
produce what they claim: the precision ops, verified sparsity, not-applicable with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.models import build_reference
from benchbench.workloads.torch_variants import make_torch_variant, prune_modules

TINY_RESNET = {"width": 0.25, "resolution": 64, "num_classes": 100}


@pytest.fixture(scope="module")
def tiny_resnet(cache_dir: Path) -> ModelArtifact:
    return build_reference("resnet18", TINY_RESNET, cache_dir)


@pytest.mark.parametrize("which", ["tiny_cnn", "tiny_resnet", "tiny_llm"])
def test_torch_fp32_agrees_with_onnx_on_every_output(which: str, request: pytest.FixtureRequest,
                                                     cache_dir: Path) -> None:
    model: ModelArtifact = request.getfixturevalue(which)
    v = make_torch_variant(model, "fp32", "none", "x86_64", cache_dir, n_validation=4)
    assert v.status == "ok", v.reason
    roles = ["prefill", "decode"] if model.kind == "llm" else ["main"]
    for role in roles:
        per_output = v.validation[role]["vs_onnx_reference"]
        assert len(per_output) == (2 if model.kind == "llm" else 1)  # logits (+ the whole KV cache)
        assert all(f["cosine_min"] >= 0.999 for f in per_output), per_output
        assert v.files[role].suffix == ".pt2"


@pytest.mark.slow
def test_int8_variants_quantize_and_keep_fidelity(tiny_llm: ModelArtifact, cache_dir: Path) -> None:
    dyn = make_torch_variant(tiny_llm, "int8-dynamic", "none", "x86_64", cache_dir, n_validation=4)
    assert dyn.status == "ok", dyn.reason
    assert dyn.extra["quantized_modules"] >= 7 * 2 + 1  # every Linear of both layers and the LM head
    assert dyn.files["prefill"].suffix == ".pt"  # packed int8 weights: TorchScript
    assert dyn.validation["decode"]["fidelity"]["cosine_mean"] > 0.99
    static = make_torch_variant(tiny_llm, "int8-static", "none", "x86_64", cache_dir, n_calibration=4,
                                n_validation=4)
    assert static.status == "ok", static.reason
    assert static.extra["quantized_engine"] == "x86"
    assert static.validation["prefill"]["fidelity"]["cosine_mean"] > 0.99
    assert len(static.validation["prefill"]["fidelity_by_output"]) == 2


def test_pruning_is_permanent_and_verified(tiny_resnet: ModelArtifact) -> None:
    from benchbench.workloads.torch_models import build_modules

    mods = build_modules(tiny_resnet)
    info = prune_modules(mods, "unstructured-20")
    assert 0.19 < info["weight_sparsity"] < 0.22 and "no speed-up" in info["note"]
    assert not any(name.endswith("_orig") for name, _ in mods["main"].named_parameters())
    mods = build_modules(tiny_resnet)
    info = prune_modules(mods, "structured-50")
    assert info["zero_channel_fraction"] >= 0.48
    conv = mods["main"].stem_conv.weight.detach()
    zero_channels = (conv.reshape(conv.shape[0], -1).abs().sum(1) == 0).float().mean()
    assert float(zero_channels) == pytest.approx(0.5, abs=0.07)


def test_cached_variant_is_reused(tiny_resnet: ModelArtifact, cache_dir: Path) -> None:
    a = make_torch_variant(tiny_resnet, "bf16", "none", "x86_64", cache_dir, n_validation=2)
    b = make_torch_variant(tiny_resnet, "bf16", "none", "x86_64", cache_dir, n_validation=2)
    assert a.status == b.status == "ok" and b.from_cache and a.sha256 == b.sha256
    loaded = torch.export.load(str(b.files["main"])).module()
    out = loaded(torch.zeros(1, 3, 64, 64))
    assert out.dtype == torch.float32 and np.isfinite(out.detach().numpy()).all()  # fp32 I/O around bf16
