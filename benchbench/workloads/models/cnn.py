"""MobileNetV2- and ResNet-18-topology CNNs built in code (random weights, BatchNorm folded).

The classifier gets a data-dependent init (a BatchNorm1d folded in front of it, computed on
structured synthetic images), so different inputs get different top-1 classes and top-1 agreement
between precision variants means something. Weights are random: fidelity numbers rank variants,
they do not predict accuracy on a real task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from . import inputs as synth
from ._graph import FLOAT, GraphBuilder, tensor

_MBV2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                  (6, 160, 3, 2), (6, 320, 1, 1)]
#: images used only for the head init; validation and calibration use other seeds
HEAD_INIT_SEED_OFFSET = 7919
HEAD_INIT_IMAGES = 16


def _divisible(value: float, divisor: int = 8) -> int:
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


class _CNN(GraphBuilder):
    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
             act: str | None = "relu", tag: str = "conv") -> tuple[str, str, str, str]:
        """Conv with a BatchNorm folded into weight and bias. Returns (out, W, B, node name)."""
        fan_in = cin // groups * k * k
        w = self.rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32) * np.sqrt(2.0 / fan_in)
        gamma = self.rng.uniform(0.5, 1.5, cout).astype(np.float32)
        beta = self.rng.normal(0.0, 0.1, cout).astype(np.float32)
        mean = self.rng.normal(0.0, 0.1, cout).astype(np.float32)
        var = self.rng.uniform(0.5, 1.5, cout).astype(np.float32)
        scale = gamma / np.sqrt(var + 1e-5)
        name = self.uid(tag)
        wn = self.const(name + ".W", (w * scale[:, None, None, None]).astype(np.float32))
        bn = self.const(name + ".B", (beta - mean * scale).astype(np.float32))
        out = self.op("Conv", [x, wn, bn], name=name, kernel_shape=[k, k], strides=[stride, stride],
                      pads=[k // 2] * 4, group=groups)
        if act == "relu":
            out = self.op("Relu", [out])
        elif act == "relu6":
            out = self.op("Clip", [out, self.f32(0.0, "c_zero"), self.f32(6.0, "c_six")])
        return out, wn, bn, name


def _mobilenetv2(b: _CNN, x: str, width: float) -> tuple[str, int, list[tuple[str, int]]]:
    cin = _divisible(32 * width)
    y, *_ = b.conv(x, 3, cin, 3, 2, act="relu6", tag="stem")
    for t, c, n, s in _MBV2_SETTINGS:
        cout = _divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            h = y
            members: list[list[Any]] = []
            if t != 1:
                h, we, be, _ = b.conv(h, cin, hid, 1, act="relu6", tag="expand")
                members += [[we, 0], [be, 0]]
            h, wd, bd, dw_name = b.conv(h, hid, hid, 3, stride, groups=hid, act="relu6", tag="dw")
            h, wp, _, _ = b.conv(h, hid, cout, 1, act=None, tag="project")
            if t != 1:  # with t == 1 the hidden channels are the block input, coupled upstream
                b.prune_groups.append({"name": dw_name + ".hidden", "size": hid, "unit": 1, "multiple": 8,
                                       "members": members + [[wd, 0], [bd, 0], [wp, 1]],
                                       "group_attr": [dw_name], "io": []})
            y = b.op("Add", [y, h]) if stride == 1 and cin == cout else h
            cin = cout
    last = _divisible(1280 * max(1.0, width))
    y, wl, bl, _ = b.conv(y, cin, last, 1, act="relu6", tag="head")
    return y, last, [(wl, 0), (bl, 0)]


def _resnet18(b: _CNN, x: str, width: float) -> tuple[str, int, list[tuple[str, int]]]:
    cin = _divisible(64 * width)
    y, *_ = b.conv(x, 3, cin, 7, 2, tag="stem")
    y = b.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage, c in enumerate([64, 128, 256, 512]):
        cout = _divisible(c * width)
        for i in range(2):
            stride = 2 if stage > 0 and i == 0 else 1
            h, w1, b1, n1 = b.conv(y, cin, cout, 3, stride, tag="conv1_")
            h, w2, _, _ = b.conv(h, cout, cout, 3, act=None, tag="conv2_")
            b.prune_groups.append({"name": n1 + ".inner", "size": cout, "unit": 1, "multiple": 8,
                                   "members": [[w1, 0], [b1, 0], [w2, 1]], "group_attr": [], "io": []})
            skip = y
            if stride != 1 or cin != cout:
                skip, *_ = b.conv(y, cin, cout, 1, stride, act=None, tag="down")
            y = b.op("Relu", [b.op("Add", [h, skip])])
            cin = cout
    return y, cin, []


def build(arch: str, width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
          seed: int = 0) -> onnx.ModelProto:
    import onnxruntime as ort

    b = _CNN(arch, seed)
    body = {"mobilenetv2": _mobilenetv2, "resnet18": _resnet18}[arch]
    y, feat, head_members = body(b, "image", width)
    pooled = b.op("Flatten", [b.op("GlobalAveragePool", [y])], name="features")
    inputs = [tensor("image", FLOAT, [1, 3, resolution, resolution])]
    # data-dependent head init: run the backbone on held-out structured images
    backbone = b.model(inputs, [tensor(pooled, FLOAT, [1, feat])], {})
    sess = ort.InferenceSession(backbone.SerializeToString(), providers=["CPUExecutionProvider"])
    feats = np.concatenate([sess.run(None, {"image": img})[0] for img in
                            synth.images(seed + HEAD_INIT_SEED_OFFSET, HEAD_INIT_IMAGES, 3, resolution,
                                         resolution)])
    mu = feats.mean(axis=0)
    sd = feats.std(axis=0)
    sd = np.maximum(sd, np.median(sd) + 1e-6)  # floor: near-constant features must not dominate
    w = b.rng.standard_normal((num_classes, feat)).astype(np.float32) / np.sqrt(feat)
    w_fold = (w / sd[None, :]).astype(np.float32)
    bias = (-(w_fold @ mu)).astype(np.float32)
    wn, bn = b.const("fc.W", w_fold), b.const("fc.B", bias)
    logits = b.op("Gemm", [pooled, wn, bn], name="fc", transB=1)
    b.rename_output(logits, "logits")
    if head_members:
        b.prune_groups.append({"name": "head", "size": feat, "unit": 1, "multiple": 8,
                               "members": [list(m) for m in head_members] + [[wn, 1]],
                               "group_attr": [], "io": []})
    meta = {"name": arch, "kind": "cnn", "task": "classification",
            "params": {"width": width, "resolution": resolution, "num_classes": num_classes, "seed": seed}}
    return b.model(inputs, [tensor("logits", FLOAT, [1, num_classes])], meta)
