"""Seeded model inputs for calibration and validation (disjoint seeds, so validation is held out).

Decoder ``decode`` feeds come from running the given ``prefill`` graph on the same token sequence
and truncating its cache at a position ``p``: the decode step then predicts token ``p + 1`` exactly
as prefill would have. Each variant is fed from its own prefill, so decode fidelity is end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import ModelArtifact
from .models import inputs as synth

SEED_OFFSETS = {"calibration": 1000, "validation": 2000}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def sample_feeds(model: ModelArtifact, files: dict[str, Path], role: str, purpose: str,
                 n: int) -> list[dict[str, np.ndarray]]:
    seed = int(model.params.get("seed", 0)) + SEED_OFFSETS[purpose]
    if model.kind == "cnn":
        res = int(model.meta["params"]["resolution"])
        return [{"image": img} for img in synth.images(seed, n, 3, res, res)]
    if model.kind == "llm":
        llm = model.meta["llm"]
        seqs = synth.token_batches(seed, n, llm["vocab"], llm["seq_len"])
        if role == "prefill":
            return [{"input_ids": s} for s in seqs]
        return _decode_feeds(files["prefill"], seqs, np.random.default_rng(seed))
    from . import byo

    return byo.sample_feeds(model, purpose, seed, n)


def _decode_feeds(prefill: Path, seqs: list[np.ndarray],
                  rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    sess = _session(prefill)
    names = [o.name for o in sess.get_outputs()]
    feeds = []
    for seq in seqs:
        outs = dict(zip(names, sess.run(None, {"input_ids": seq})))
        pos = int(rng.integers(seq.shape[1] // 2, seq.shape[1]))
        feed: dict[str, np.ndarray] = {"input_ids": seq[:, pos:pos + 1].copy(),
                                       "position": np.array([pos], dtype=np.int64)}
        for name, value in outs.items():
            if name.startswith("present_"):
                cache = value.copy()
                cache[:, :, pos:, :] = 0.0
                feed[name.replace("present_", "past_", 1)] = cache
        feeds.append(feed)
    return feeds
