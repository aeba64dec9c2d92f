"""The reference models (``mobilenetv2``, ``resnet18``, ``decoder``) as PyTorch modules, on the controller.

Architectures follow ``models/cnn.py`` and ``models/decoder.py`` layer for layer, and every weight is read
from the built ONNX reference's initializers (BatchNorm already folded), so the torch and ONNX Runtime rows
of one report run the same function: fp32 outputs agree to cosine ≥ 0.999 (tested). Conv node names are
replayed with the ONNX builder's counters (``stem0``, ``dw3``, ``conv1_5`` …) and weights looked up by name.

The decoder is two modules sharing one core: ``prefill(input_ids [1, S]) → (logits, cache)`` and
``decode(input_ids [1, 1], position [1], cache) → (logits, cache)`` with the whole KV cache stacked in one
tensor ``[layers, 2, 1, heads, max_len, head_dim]`` (the ONNX graphs keep one input per layer and tensor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .artifacts import ModelArtifact
from .models.cnn import _MBV2_SETTINGS, _divisible

_NEG = -30000.0  # as in models/decoder.py: finite and representable in fp16


def onnx_arrays(path: Path) -> dict[str, np.ndarray]:
    model = onnx.load(str(path))
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).copy())


class _Convs:
    """Creates convs named like the ONNX builder's ``uid`` and fills them from its initializers."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.count: dict[str, int] = {}
        self.modules = nn.ModuleDict()

    def __call__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
                 tag: str = "conv") -> str:
        n = self.count.get(tag, 0)
        self.count[tag] = n + 1
        name = f"{tag}{n}"
        conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=True)
        w, b = self.arrays[name + ".W"], self.arrays[name + ".B"]
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ValueError(f"{name}: ONNX weight {w.shape} does not fit the torch conv "
                             f"{tuple(conv.weight.shape)}")
        with torch.no_grad():
            assert conv.bias is not None  # built with bias=True
            conv.weight.copy_(_t(w))
            conv.bias.copy_(_t(b))
        self.modules[name] = conv
        return name


class _MBV2Block(nn.Module):
    def __init__(self, convs: nn.ModuleDict, expand: str | None, dw: str, project: str,
                 residual: bool) -> None:
        super().__init__()
        self.expand = convs[expand] if expand else None
        self.dw, self.project, self.residual = convs[dw], convs[project], residual
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.expand(x)) if self.expand is not None else x
        h = self.project(self.act(self.dw(h)))
        out: torch.Tensor = x + h if self.residual else h
        return out


class _ResBlock(nn.Module):
    def __init__(self, convs: nn.ModuleDict, conv1: str, conv2: str, down: str | None) -> None:
        super().__init__()
        self.conv1, self.conv2 = convs[conv1], convs[conv2]
        self.down = convs[down] if down else None
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.relu1(self.conv1(x)))
        skip = self.down(x) if self.down is not None else x
        out: torch.Tensor = self.relu2(h + skip)
        return out


class CNN(nn.Module):
    """``image [1, 3, R, R] → logits [1, classes]``."""

    def __init__(self, arch: str, width: float, arrays: dict[str, np.ndarray]) -> None:
        super().__init__()
        c = _Convs(arrays)
        blocks: list[nn.Module] = []
        if arch == "mobilenetv2":
            cin = _divisible(32 * width)
            self.stem = c(3, cin, 3, 2, tag="stem")
            names = []
            for t, ch, n, s in _MBV2_SETTINGS:
                cout = _divisible(ch * width)
                for i in range(n):
                    stride = s if i == 0 else 1
                    hid = cin * t
                    expand = c(cin, hid, 1, tag="expand") if t != 1 else None
                    names.append((expand, c(hid, hid, 3, stride, groups=hid, tag="dw"),
                                  c(hid, cout, 1, tag="project"), stride == 1 and cin == cout))
                    cin = cout
            last = _divisible(1280 * max(1.0, width))
            self.head = c(cin, last, 1, tag="head")
            blocks = [_MBV2Block(c.modules, *n) for n in names]
            self.stem_act: nn.Module = nn.ReLU6()
            self.pool: nn.Module = nn.Identity()
            feat = last
        elif arch == "resnet18":
            cin = _divisible(64 * width)
            self.stem = c(3, cin, 7, 2, tag="stem")
            for stage, ch in enumerate([64, 128, 256, 512]):
                cout = _divisible(ch * width)
                for i in range(2):
                    stride = 2 if stage > 0 and i == 0 else 1
                    c1, c2 = c(cin, cout, 3, stride, tag="conv1_"), c(cout, cout, 3, tag="conv2_")
                    down = c(cin, cout, 1, stride, tag="down") if stride != 1 or cin != cout else None
                    blocks.append(_ResBlock(c.modules, c1, c2, down))
                    cin = cout
            self.head = ""
            self.stem_act = nn.ReLU()
            self.pool = nn.MaxPool2d(3, 2, 1)
            feat = cin
        else:
            raise ValueError(f"unknown CNN {arch!r}")
        self.stem_conv = c.modules[self.stem]
        self.blocks = nn.Sequential(*blocks)
        self.head_conv = c.modules[self.head] if self.head else None
        self.head_act = nn.ReLU6()
        self.fc = nn.Linear(feat, arrays["fc.W"].shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(_t(arrays["fc.W"]))  # Gemm transB=1: already [out, in]
            self.fc.bias.copy_(_t(arrays["fc.B"]))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.pool(self.stem_act(self.stem_conv(image))))
        if self.head_conv is not None:
            y = self.head_act(self.head_conv(y))
        out: torch.Tensor = self.fc(torch.flatten(torch.mean(y, dim=(2, 3), keepdim=True), 1))
        return out


class _RMSNorm(nn.Module):
    def __init__(self, weight: np.ndarray) -> None:
        super().__init__()
        self.weight = nn.Parameter(_t(weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-6) * self.weight


def _linear(w: np.ndarray) -> nn.Linear:
    """ONNX MatMul weight [in, out] → nn.Linear (weight [out, in]), the module quantize_dynamic targets."""
    lin = nn.Linear(w.shape[0], w.shape[1], bias=False)
    with torch.no_grad():
        lin.weight.copy_(_t(w.T))
    return lin


class _Layer(nn.Module):
    def __init__(self, a: dict[str, np.ndarray], p: str) -> None:
        super().__init__()
        self.attn_norm, self.mlp_norm = (_RMSNorm(a[p + "attn_norm.weight"]),
                                         _RMSNorm(a[p + "mlp_norm.weight"]))
        self.q, self.k, self.v, self.o = (_linear(a[p + n]) for n in ("q", "k", "v", "o"))
        self.gate, self.up, self.down = (_linear(a[p + n]) for n in ("gate", "up", "down"))


class DecoderCore(nn.Module):
    rope_cos: torch.Tensor
    rope_sin: torch.Tensor
    positions: torch.Tensor
    causal: torch.Tensor

    def __init__(self, llm: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.n_layers, self.n_heads, self.hd = int(llm["layers"]), int(llm["heads"]), int(llm["head_dim"])
        self.seq, self.max_len = int(llm["seq_len"]), int(llm["max_len"])
        self.embed = nn.Embedding.from_pretrained(_t(arrays["embed.weight"]), freeze=True)  # type: ignore[no-untyped-call]
        self.layers = nn.ModuleList(_Layer(arrays, f"layers.{i}.") for i in range(self.n_layers))
        self.final_norm = _RMSNorm(arrays["final_norm.weight"])
        self.lm_head = _linear(arrays["lm_head"])
        self.register_buffer("rope_cos", _t(arrays["rope.cos"]))
        self.register_buffer("rope_sin", _t(arrays["rope.sin"]))
        self.register_buffer("positions", torch.arange(self.max_len))
        self.register_buffer("causal", torch.tril(torch.ones(self.seq, self.seq, dtype=torch.bool)))

    def rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = self.hd // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def heads(self, x: torch.Tensor, s: int) -> torch.Tensor:
        return x.view(1, s, -1, self.hd).transpose(1, 2)

    def run(self, input_ids: torch.Tensor, position: torch.Tensor | None,
            cache: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.seq if position is None else 1
        x = self.embed(input_ids)
        if position is None:
            cos, sin = self.rope_cos[:s], self.rope_sin[:s]
            allowed = self.causal
            write = None
        else:
            cos, sin = self.rope_cos[position], self.rope_sin[position]
            allowed = self.positions <= position
            write = (self.positions == position).view(1, 1, self.max_len, 1)
        presents = []
        for i, module in enumerate(self.layers):
            layer = cast(_Layer, module)  # the ModuleList holds _Layer only (built above)
            h = layer.attn_norm(x)
            q = self.rope(self.heads(layer.q(h), s), cos, sin)
            k = self.rope(self.heads(layer.k(h), s), cos, sin)
            v = self.heads(layer.v(h), s)
            if write is None or cache is None:
                pad = (0, 0, 0, self.max_len - s)
                present_k, present_v = nn.functional.pad(k, pad), nn.functional.pad(v, pad)
                keys, values = k, v
            else:
                present_k = torch.where(write, k, cache[i, 0])
                present_v = torch.where(write, v, cache[i, 1])
                keys, values = present_k, present_v
            presents.append(torch.stack([present_k, present_v]))
            scores = torch.matmul(q, keys.transpose(2, 3)) * (1.0 / float(np.sqrt(self.hd)))
            probs = torch.softmax(torch.where(allowed, scores, torch.full_like(scores, _NEG)), dim=-1)
            ctx = torch.matmul(probs, values).transpose(1, 2).reshape(1, s, -1)
            x = x + layer.o(ctx)
            h = layer.mlp_norm(x)
            g = layer.gate(h)
            x = x + layer.down(g * torch.sigmoid(g) * layer.up(h))
        return self.lm_head(self.final_norm(x)), torch.stack(presents)


class Prefill(nn.Module):
    def __init__(self, core: DecoderCore) -> None:
        super().__init__()
        self.core = core

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.core.run(input_ids, None, None)


class Decode(nn.Module):
    def __init__(self, core: DecoderCore) -> None:
        super().__init__()
        self.core = core

    def forward(self, input_ids: torch.Tensor, position: torch.Tensor,
                cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.core.run(input_ids, position, cache)


def build_modules(model: ModelArtifact) -> dict[str, nn.Module]:
    """The reference model as torch modules by role (``main``, or ``prefill`` + ``decode``), eval mode."""
    arrays = onnx_arrays(model.path)
    if model.kind == "cnn":
        mods: dict[str, nn.Module] = {"main": CNN(model.name, float(model.meta["params"]["width"]), arrays)}
    elif model.kind == "llm":
        core = DecoderCore(model.meta["llm"], arrays)
        mods = {"prefill": Prefill(core), "decode": Decode(core)}
    else:
        raise ValueError(f"{model.name} is not a reference model")
    for m in mods.values():
        m.eval()
    return mods


def cache_shape(llm: dict[str, Any]) -> list[int]:
    return [int(llm["layers"]), 2, 1, int(llm["heads"]), int(llm["max_len"]), int(llm["head_dim"])]


def onnx_decode_feed(feed: dict[str, Any], layers: int) -> dict[str, np.ndarray]:
    """A torch decode feed (stacked cache) as the ONNX decode graph's per-layer feed."""
    out = {"input_ids": feed["input_ids"], "position": feed["position"]}
    for i in range(layers):
        out[f"past_key_{i}"] = feed["cache"][i, 0]
        out[f"past_value_{i}"] = feed["cache"][i, 1]
    return out
