"""Fidelity of a GGUF variant vs its f16 source, computed on the controller with llama.cpp (llama-cpp-python).

The token stream is fixed and seeded: ``n_eval`` tokens sampled at temperature 1 from the f16 model itself
(seeded ``numpy`` generator, BOS first), so it is text that model finds natural and a variant that drifts
from it shows in both numbers. Both models then see the whole stream in one batch with logits at every
position (llama-perplexity style, one context):

* top-1 agreement: the fraction of positions where the variant's argmax equals f16's;
* perplexity: exp(mean negative log-likelihood of each next token of the stream), and its ratio to f16's.
  A ratio above ``PPL_EXPLODED`` is flagged (``exploded``).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

PPL_EXPLODED = 1.5
STREAM_VERSION = 1


class ArchUnsupported(RuntimeError):
    """llama.cpp does not know the model's architecture: the job is ``unsupported``, not failed."""


def _llama() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise RuntimeError("llama-cpp-python is not installed on the controller: pip install "
                           "'benchbench[llm]'") \
            from None
    return llama_cpp


_LOG: dict[str, Any] = {}


def _log_lines(lc: Any) -> list[str]:
    """llama.cpp's log lines, captured (not printed). One callback for the process, never freed: llama.cpp
    keeps the pointer globally, so a callback owned by a short-lived object would be called after it is
    gone."""
    if "lines" not in _LOG:
        lines: list[str] = []

        def cb(level: int, text: bytes, user: Any) -> None:
            lines.append(text.decode("utf-8", "replace"))
            del lines[:-500]
        _LOG.update(lines=lines, cb=lc.llama_log_callback(cb))
    lc.llama_log_set(_LOG["cb"], ctypes.c_void_p())  # again each time: another component may have set its own
    out: list[str] = _LOG["lines"]
    return out


class _Model:
    """A model + context on the controller's CPU, logs silenced (llama.cpp's own stderr lines)."""

    def __init__(self, path: Path, n_ctx: int) -> None:
        lc = self.lc = _llama()
        lines = _log_lines(lc)
        del lines[:]
        lc.llama_backend_init()
        mp = lc.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = lc.llama_model_load_from_file(str(path).encode(), mp)
        if not self.model:
            why = next((ln.strip() for ln in lines if "unknown model architecture" in ln), None)
            if why:
                raise ArchUnsupported(f"this llama.cpp cannot run {path.name}: {why[:200]}")
            errs = [ln.strip() for ln in lines if "error" in ln.lower()] or ["no log output"]
            raise RuntimeError(f"llama.cpp could not load {path.name}: {errs[-1][:200]}")
        del lines[:]
        cp = lc.llama_context_default_params()
        cp.n_ctx = cp.n_batch = cp.n_ubatch = n_ctx
        cp.n_threads = cp.n_threads_batch = os.cpu_count() or 1
        cp.no_perf = True
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            lc.llama_model_free(self.model)
            raise RuntimeError(f"llama.cpp could not create a context for {path.name}")
        vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = int(lc.llama_vocab_n_tokens(vocab))
        self.bos = int(lc.llama_vocab_bos(vocab))

    def logits(self, tokens: list[int]) -> Any:
        """Logits at every position after feeding ``tokens`` from an empty cache: [len, n_vocab]."""
        import numpy as np

        lc, n = self.lc, len(tokens)
        lc.llama_memory_clear(lc.llama_get_memory(self.ctx), True)
        batch = lc.llama_batch_init(n, 0, 1)
        try:
            batch.n_tokens = n
            for i, t in enumerate(tokens):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1
            rc = lc.llama_decode(self.ctx, batch)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            out = np.ctypeslib.as_array(lc.llama_get_logits(self.ctx), shape=(n * self.n_vocab,))
            return out.reshape(n, self.n_vocab).astype(np.float64)
        finally:
            lc.llama_batch_free(batch)

    def next_logits(self, token: int) -> Any:
        """Feed one more token (the cache advances) and return its logits row."""
        import numpy as np

        lc = self.lc
        arr = (lc.llama_token * 1)(token)
        rc = lc.llama_decode(self.ctx, lc.llama_batch_get_one(arr, 1))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        return np.ctypeslib.as_array(lc.llama_get_logits_ith(self.ctx, -1),
                                     shape=(self.n_vocab,)).astype(np.float64)

    def close(self) -> None:
        self.lc.llama_free(self.ctx)
        self.lc.llama_model_free(self.model)


def _stream(ref: _Model, n_eval: int, seed: int) -> list[int]:
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens = [ref.bos]
    ref.lc.llama_memory_clear(ref.lc.llama_get_memory(ref.ctx), True)
    while len(tokens) < n_eval:
        z = ref.next_logits(tokens[-1])
        p = np.exp(z - z.max())
        tokens.append(int(rng.choice(ref.n_vocab, p=p / p.sum())))
    return tokens


def _nll(logits: Any, tokens: list[int]) -> Any:
    import numpy as np

    z = logits[:-1]
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(tokens) - 1), np.array(tokens[1:])]


def _reference(base: Path, cache_dir: Path, n_eval: int, seed: int) -> tuple[list[int], Any]:
    """The seeded stream and its f16 logits, cached beside the variants (npz keyed by file and settings)."""
    import numpy as np

    from .artifacts import sha256_file

    folder = cache_dir / "gguf-fidelity"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256_file(base)[:16]}-n{n_eval}-s{seed}-v{STREAM_VERSION}.npz"
    if path.is_file():
        with np.load(path) as data:
            return [int(t) for t in data["tokens"]], data["logits"]
    ref = _Model(base, n_eval)
    try:
        tokens = _stream(ref, n_eval, seed)
        logits = ref.logits(tokens)
    finally:
        ref.close()
    tmp = folder / (path.name + ".tmp.npz")
    np.savez_compressed(tmp, tokens=np.array(tokens, dtype=np.int64), logits=logits.astype(np.float32))
    os.replace(tmp, path)
    return tokens, logits


def fidelity_vs_reference(base: Path, variant: Path, cache_dir: Path, n_eval: int = 96,
                          seed: int = 0) -> dict[str, Any]:
    """{top1_agreement, perplexity, perplexity_reference, perplexity_ratio, exploded, positions, stream}."""
    import numpy as np

    tokens, ref_logits = _reference(base, cache_dir, n_eval, seed)
    if variant == base:
        var_logits = ref_logits
    else:
        m = _Model(variant, n_eval)
        try:
            var_logits = m.logits(tokens)
        finally:
            m.close()
    ppl_ref = float(np.exp(_nll(ref_logits.astype(np.float64), tokens).mean()))
    ppl = float(np.exp(_nll(var_logits.astype(np.float64), tokens).mean()))
    agree = float((var_logits.argmax(axis=1) == ref_logits.argmax(axis=1)).mean())
    ratio = ppl / ppl_ref if ppl_ref > 0 else float("inf")
    finite = bool(np.isfinite(ppl))
    return {"top1_agreement": agree, "perplexity": ppl if finite else None, "perplexity_reference": ppl_ref,
            "perplexity_ratio": ratio if finite else None, "exploded": (not finite) or ratio > PPL_EXPLODED,
            "explode_threshold": PPL_EXPLODED, "positions": len(tokens), "samples": len(tokens),
            "top1_positions": len(tokens),
            "stream": f"{len(tokens)} tokens sampled at temperature 1 from the f16 model (seed {seed}, BOS "
                      "first); one context, logits at every position"}
