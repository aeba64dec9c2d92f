"""Seeded synthetic inputs with structure, so that fidelity metrics compare distinguishable outputs.

i.i.d. noise images are statistically identical: a random CNN global-pools them all to the same
feature vector and every image gets the same top-1 class. Smooth fields with random frequency,
contrast and per-channel offset give input-dependent features. Token sequences are Zipf-distributed
with repeated n-grams, like text, rather than uniform noise.
"""

from __future__ import annotations

import numpy as np


def image(rng: np.random.Generator, channels: int, height: int, width: int) -> np.ndarray:
    """One [1, C, H, W] float32 image: a sum of random plane waves plus an edge, per-channel mixed."""
    v, u = np.meshgrid(np.linspace(0.0, 1.0, height, dtype=np.float32),
                       np.linspace(0.0, 1.0, width, dtype=np.float32), indexing="ij")
    n_waves = int(rng.integers(2, 6))
    field = np.zeros((n_waves + 1, height, width), dtype=np.float32)
    max_freq = float(rng.uniform(1.0, 12.0))  # the field's "resolution"
    for k in range(n_waves):
        fx, fy = rng.uniform(-max_freq, max_freq, size=2)
        field[k] = np.sin(2 * np.pi * (fx * u + fy * v) + rng.uniform(0, 2 * np.pi))
    angle = rng.uniform(0, np.pi)
    field[n_waves] = np.tanh(20.0 * (np.cos(angle) * (u - rng.uniform(0.2, 0.8))
                                     + np.sin(angle) * (v - rng.uniform(0.2, 0.8))))
    mix = rng.standard_normal((channels, n_waves + 1)).astype(np.float32)
    img = np.einsum("ck,khw->chw", mix, field) / np.sqrt(n_waves + 1)
    contrast = rng.uniform(0.3, 2.0)
    offset = rng.uniform(-1.0, 1.0, size=(channels, 1, 1)).astype(np.float32)
    out: np.ndarray = (contrast * img + offset)[None].astype(np.float32)
    return out


def images(seed: int, n: int, channels: int, height: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [image(rng, channels, height, width) for _ in range(n)]


def tokens(rng: np.random.Generator, vocab: int, length: int) -> np.ndarray:
    """One [1, length] int64 sequence: Zipf over a shuffled vocabulary, with copied n-grams."""
    order = rng.permutation(vocab)
    ranks = np.minimum(rng.zipf(1.3, size=length) - 1, vocab - 1)
    seq = order[ranks]
    pos = 8
    while pos < length - 4:
        if rng.random() < 0.3:  # repeat an earlier span, as text repeats phrases
            span = int(rng.integers(2, 6))
            start = int(rng.integers(0, pos - 2))
            seq[pos:pos + span] = seq[start:start + span][: len(seq[pos:pos + span])]
            pos += span
        pos += int(rng.integers(1, 6))
    return seq[None].astype(np.int64)


def token_batches(seed: int, n: int, vocab: int, length: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [tokens(rng, vocab, length) for _ in range(n)]
