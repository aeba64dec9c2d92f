"""A LLaMA/GLM-style decoder LLM (RMSNorm, RoPE, causal attention, SwiGLU) as two ONNX graphs.

* ``prefill``: ``input_ids [1, S]`` → ``logits [1, S, V]`` and a KV cache per layer,
  ``present_key_i / present_value_i [1, H, L, D]`` (L = ``max_len``; positions >= S are zero).
* ``decode``: one token, ``input_ids [1, 1]`` and ``position [1]`` plus the cache → ``logits [1, 1, V]``
  and the updated cache. The cache is a static ``max_len`` buffer (written with a one-hot Where,
  attention masked to positions <= ``position``), so every shape is static and one decode step costs
  the same at any position, like a static-cache runtime.

Both graphs share weight names, so structured pruning slices them identically. Attention uses
``Reshape [0, 0, -1, D]``, so removing whole heads needs no graph edit beyond the cache I/O shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from ._graph import FLOAT, INT64, GraphBuilder, tensor

DEFAULTS: dict[str, Any] = {"vocab": 8192, "hidden": 512, "layers": 4, "heads": 8, "ffn": 1536,
                            "seq_len": 128, "max_len": 256, "rope_theta": 10000.0, "seed": 0}
_NEG = -30000.0  # masked score: finite, representable in fp16


class _Decoder(GraphBuilder):
    def __init__(self, name: str, cfg: dict[str, Any]) -> None:
        super().__init__(name, int(cfg["seed"]))
        self.cfg = cfg
        self.head_dim = cfg["hidden"] // cfg["heads"]

    def weight(self, name: str, rows: int, cols: int, std: float = 0.02) -> str:
        return self.const(name, (self.rng.standard_normal((rows, cols)) * std).astype(np.float32))

    def rmsnorm(self, x: str, name: str) -> str:
        w = self.const(name + ".weight", np.ones(self.cfg["hidden"], dtype=np.float32))
        var = self.op("ReduceMean", [self.op("Mul", [x, x]), self.i64([-1])], keepdims=1)
        inv = self.op("Reciprocal", [self.op("Sqrt", [self.op("Add", [var, self.f32(1e-6, "c_eps")])])])
        return self.op("Mul", [self.op("Mul", [x, inv]), w])

    def rope(self, x: str, cos: str, sin: str) -> str:
        """x [1, H, S, D]; cos/sin broadcast as [S, D] (rotate-half convention)."""
        half = self.head_dim // 2
        x1 = self.op("Slice", [x, self.i64([0]), self.i64([half]), self.i64([-1])])
        x2 = self.op("Slice", [x, self.i64([half]), self.i64([self.head_dim]), self.i64([-1])])
        rot = self.op("Concat", [self.op("Neg", [x2]), x1], axis=-1)
        return self.op("Add", [self.op("Mul", [x, cos]), self.op("Mul", [rot, sin])])

    def heads(self, x: str) -> str:
        """[1, S, H*D] → [1, H, S, D]."""
        r = self.op("Reshape", [x, self.i64([0, 0, -1, self.head_dim], "c_heads_shape")])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])


def _rope_tables(cfg: dict[str, Any], head_dim: int) -> tuple[np.ndarray, np.ndarray]:
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    ang = np.arange(cfg["max_len"], dtype=np.float64)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def _build(cfg: dict[str, Any], role: str) -> onnx.ModelProto:
    b = _Decoder("decoder_" + role, cfg)
    hidden, n_layers, n_heads, ffn, vocab = (cfg[k] for k in ("hidden", "layers", "heads", "ffn", "vocab"))
    seq, max_len, hd = cfg["seq_len"], cfg["max_len"], b.head_dim
    cos_t, sin_t = _rope_tables(cfg, hd)
    b.const("rope.cos", cos_t)
    b.const("rope.sin", sin_t)
    emb = b.weight("embed.weight", vocab, hidden)
    x = b.op("Gather", [emb, "input_ids"], axis=0)
    positions = np.arange(max_len, dtype=np.int64)
    if role == "prefill":
        cos = b.op("Slice", ["rope.cos", b.i64([0]), b.i64([seq]), b.i64([0])])
        sin = b.op("Slice", ["rope.sin", b.i64([0]), b.i64([seq]), b.i64([0])])
        allowed = b.const("causal_mask", np.tril(np.ones((seq, seq), dtype=bool)))
    else:
        cos = b.op("Gather", ["rope.cos", "position"], axis=0)
        sin = b.op("Gather", ["rope.sin", "position"], axis=0)
        pos_range = b.const("cache_positions", positions)
        allowed = b.op("LessOrEqual", [pos_range, "position"])  # [L]
        write = b.op("Reshape", [b.op("Equal", [pos_range, "position"]), b.i64([1, 1, max_len, 1])])
    scale = b.f32(1.0 / float(np.sqrt(hd)), "c_attn_scale")
    neg = b.f32(_NEG, "c_neg")
    cache_in: list[onnx.ValueInfoProto] = []
    cache_out: list[onnx.ValueInfoProto] = []
    cache_shape = [1, n_heads, max_len, hd]
    for i in range(n_layers):
        p = f"layers.{i}."
        wq, wk, wv = (b.weight(p + n, hidden, n_heads * hd) for n in ("q", "k", "v"))
        wo = b.weight(p + "o", n_heads * hd, hidden)
        h = b.rmsnorm(x, p + "attn_norm")
        q = b.rope(b.heads(b.op("MatMul", [h, wq])), cos, sin)
        k = b.rope(b.heads(b.op("MatMul", [h, wk])), cos, sin)
        v = b.heads(b.op("MatMul", [h, wv]))
        if role == "prefill":
            pad = b.i64([0, 0, 0, 0, 0, 0, max_len - seq, 0], "c_cache_pad")
            present_k = b.op("Pad", [k, pad], name=f"present_key_{i}_node")
            present_v = b.op("Pad", [v, pad], name=f"present_value_{i}_node")
            keys, values = k, v
        else:
            present_k = b.op("Where", [write, k, f"past_key_{i}"], name=f"present_key_{i}_node")
            present_v = b.op("Where", [write, v, f"past_value_{i}"], name=f"present_value_{i}_node")
            cache_in += [tensor(f"past_key_{i}", FLOAT, cache_shape),
                         tensor(f"past_value_{i}", FLOAT, cache_shape)]
        present_k = b.rename_output(present_k, f"present_key_{i}")
        present_v = b.rename_output(present_v, f"present_value_{i}")
        if role == "decode":
            keys, values = present_k, present_v
        cache_out += [tensor(f"present_key_{i}", FLOAT, cache_shape),
                      tensor(f"present_value_{i}", FLOAT, cache_shape)]
        scores = b.op("Mul", [b.op("MatMul", [q, b.op("Transpose", [keys], perm=[0, 1, 3, 2])]), scale])
        probs = b.op("Softmax", [b.op("Where", [allowed, scores, neg])], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [probs, values])], perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", [ctx, b.i64([0, 0, -1], "c_merge_shape")])
        x = b.op("Add", [x, b.op("MatMul", [ctx, wo])])
        h = b.rmsnorm(x, p + "mlp_norm")
        wg, wu = b.weight(p + "gate", hidden, ffn), b.weight(p + "up", hidden, ffn)
        wd = b.weight(p + "down", ffn, hidden)
        g = b.op("MatMul", [h, wg])
        act = b.op("Mul", [b.op("Mul", [g, b.op("Sigmoid", [g])]), b.op("MatMul", [h, wu])])  # SiLU(g)·u
        x = b.op("Add", [x, b.op("MatMul", [act, wd])])
        b.prune_groups.append({"name": p + "mlp", "size": ffn, "unit": 1, "multiple": 8,
                               "members": [[wg, 1], [wu, 1], [wd, 0]], "group_attr": [], "io": []})
        b.prune_groups.append({"name": p + "heads", "size": n_heads, "unit": hd, "multiple": 1,
                               "members": [[wq, 1], [wk, 1], [wv, 1], [wo, 0]], "group_attr": [],
                               "io": [[f"past_key_{i}", 1], [f"past_value_{i}", 1],
                                      [f"present_key_{i}", 1], [f"present_value_{i}", 1]]})
    x = b.rmsnorm(x, "final_norm")
    logits = b.rename_output(b.op("MatMul", [x, b.weight("lm_head", hidden, vocab)]), "logits")
    tokens = seq if role == "prefill" else 1
    inputs = [tensor("input_ids", INT64, [1, tokens])]
    if role == "decode":
        inputs.append(tensor("position", INT64, [1]))
    meta = {"name": "decoder", "kind": "llm", "role": role, "task": "next-token",
            "params": dict(cfg), "llm": {"layers": n_layers, "heads": n_heads, "head_dim": hd,
                                         "seq_len": seq, "max_len": max_len, "vocab": vocab}}
    return b.model(inputs + cache_in, [tensor(logits, FLOAT, [1, tokens, vocab])] + cache_out, meta)


def build(role: str = "prefill", **params: Any) -> onnx.ModelProto:
    cfg = dict(DEFAULTS, **params)
    if cfg["hidden"] % cfg["heads"] or (cfg["hidden"] // cfg["heads"]) % 2:
        raise ValueError("hidden must be a multiple of heads with an even head dimension")
    if cfg["seq_len"] >= cfg["max_len"]:
        raise ValueError("seq_len must be below max_len (room for decoded tokens)")
    if role not in ("prefill", "decode"):
        raise ValueError(f"unknown decoder role {role!r}")
    return _build(cfg, role)
