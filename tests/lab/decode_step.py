"""One decode step of the reference decoder against its prefill, for the model and pruning tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def prefill_then_decode(prefill: Any, decode: Any, toks: np.ndarray, pos: int) -> tuple[list[Any], list[Any]]:
    """Run ``prefill`` (an onnxruntime session) on ``toks``, then ``decode`` at ``pos`` on a copy of its KV
    cache with every position from ``pos`` on zeroed: (the decode step's outputs, prefill's outputs)."""
    names = [o.name for o in prefill.get_outputs()]
    outs = prefill.run(None, {"input_ids": toks})
    feed = {n.replace("present_", "past_"): v.copy() for n, v in zip(names[1:], outs[1:])}
    for v in feed.values():
        v[:, :, pos:, :] = 0
    step = {"input_ids": toks[:, pos:pos + 1], "position": np.array([pos], dtype=np.int64)}
    return decode.run(None, {**feed, **step}), outs
