"""GGUF models for the llama.cpp backend: the reference model built in code, and the header of any ``.gguf``.

The reference (``workload: llm-gguf``) is a LLaMA-architecture decoder with seeded random weights and a
byte-level SentencePiece vocabulary (``<unk>``, ``<s>``, ``</s>`` and the 256 ``<0xNN>`` byte tokens), written
with ``gguf.GGUFWriter`` at f16, so nothing is downloaded. The default width is 256 because llama.cpp's
k-quants (q4_k_m, q5_k_m, iq4_xs) pack rows in super-blocks of 256 values: a narrower model makes those types
"not applicable" rather than silently falling back to other types. Weights are scaled so the logits have a
spread of a few units: near-uniform logits would make top-1 agreement a coin toss between near ties.

``describe(path)`` reads a file's header with the ``gguf`` package (architecture, file type, parameter count,
size, tensor row lengths); a corrupt or truncated file is a ConfigError naming it (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .artifacts import read_sidecar, sha256_file, sha256_json, write_sidecar

#: builder keys of the reference model and their defaults
DEFAULTS: dict[str, int] = {"layers": 2, "hidden": 256, "ffn": 512, "heads": 4, "kv_heads": 2, "context": 512}
BUILDER_VERSION = 1
MISSING_GGUF = "the gguf package is not installed on the controller: pip install 'benchbench[llm]'"
#: general.file_type → the name users know (llama.cpp's LLAMA_FTYPE_MOSTLY_*)
_SPECIAL_NAMES = {"ALL_F32": "f32", "MOSTLY_F16": "f16", "MOSTLY_BF16": "bf16"}


def _gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise ConfigError(MISSING_GGUF, key="model") from None
    return gguf


def check_builder(params: dict[str, Any]) -> dict[str, int]:
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown model parameter {unknown[0]!r} for llm-gguf (known: "
                          f"{', '.join(DEFAULTS)})",
                          key=unknown[0])
    out = dict(DEFAULTS)
    for k, v in params.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"{k} must be a positive integer (got {v!r})", key=k)
        out[k] = v
    if out["hidden"] % out["heads"] or out["heads"] % out["kv_heads"]:
        raise ConfigError("hidden must be a multiple of heads, and heads a multiple of kv_heads", key="heads")
    if (out["hidden"] // out["heads"]) % 2:
        raise ConfigError("the head size (hidden / heads) must be even for RoPE", key="heads")
    return out


def _write_reference(path: Path, p: dict[str, int], seed: int) -> None:
    import numpy as np

    gguf = _gguf()
    rng = np.random.default_rng(seed)
    hidden, ffn, heads, kv = p["hidden"], p["ffn"], p["heads"], p["kv_heads"]
    head_dim = hidden // heads
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = ([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
             + [gguf.TokenType.BYTE] * 256)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("benchbench-tiny-llama")
    w.add_description(f"benchbench reference: seeded random weights (seed {seed}), byte-level vocabulary")
    w.add_context_length(p["context"])
    w.add_embedding_length(hidden)
    w.add_block_count(p["layers"])
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)

    def mat(rows: int, cols: int, scale: float = 1.0) -> Any:
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float16)

    def norm() -> Any:
        return (1.0 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)

    w.add_tensor("token_embd.weight", rng.standard_normal((len(tokens), hidden)).astype(np.float16))
    for i in range(p["layers"]):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", norm())
        w.add_tensor(b + "attn_q.weight", mat(hidden, hidden, 2.0))
        w.add_tensor(b + "attn_k.weight", mat(kv * head_dim, hidden, 2.0))
        w.add_tensor(b + "attn_v.weight", mat(kv * head_dim, hidden))
        w.add_tensor(b + "attn_output.weight", mat(hidden, hidden, 0.5))
        w.add_tensor(b + "ffn_norm.weight", norm())
        w.add_tensor(b + "ffn_gate.weight", mat(ffn, hidden))
        w.add_tensor(b + "ffn_up.weight", mat(ffn, hidden))
        w.add_tensor(b + "ffn_down.weight", mat(hidden, ffn, 0.5))
    w.add_tensor("output_norm.weight", norm())
    w.add_tensor("output.weight", mat(len(tokens), hidden, 3.0))  # logits spread of ~3 units
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def build_reference(params: dict[str, Any], seed: int, cache_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The reference f16 GGUF (cached by builder params, seed and gguf version) and its header facts."""
    gguf = _gguf()
    p = check_builder(params)
    version = getattr(gguf, "__version__", None) or _dist_version("gguf")
    key = sha256_json({"params": p, "seed": seed, "builder": BUILDER_VERSION, "gguf": version})
    folder = cache_dir / "gguf" / f"tiny-llama-{key[:16]}"
    path = folder / "tiny-llama-f16.gguf"
    cached = read_sidecar(folder)
    if cached is not None and path.is_file():
        return path, dict(cached["facts"])
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tiny-llama-f16.gguf.tmp"
    _write_reference(tmp, p, seed)
    os.replace(tmp, path)
    facts = describe(path)
    facts["builder"] = dict(p, seed=seed, gguf=version)
    write_sidecar(folder, {"facts": facts})
    return path, facts


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def file_type_name(code: int | None) -> str:
    """llama.cpp's name for a ``general.file_type`` (``q4_k_m``, ``f16``…)."""
    if code is None:
        return "unknown"
    gguf = _gguf()
    try:
        name = str(gguf.LlamaFileType(int(code)).name)
    except ValueError:
        return f"file_type {code}"
    return _SPECIAL_NAMES.get(name, name.replace("MOSTLY_", "").lower())


def _field(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        return f.contents()
    except (ValueError, IndexError, TypeError):
        return None


def describe(path: Path) -> dict[str, Any]:
    """Architecture, file type, parameter count, size and row lengths from the header; ConfigError (exit 2)
    naming the file when it is not a readable GGUF (wrong magic, truncated, corrupt metadata)."""
    gguf = _gguf()
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", key="model")
    try:
        reader = gguf.GGUFReader(str(path), "r")
        tensors = list(reader.tensors)
        arch = _field(reader, "general.architecture")
        ftype = _field(reader, "general.file_type")
        name = _field(reader, "general.name")
        n_params = int(sum(int(t.n_elements) for t in tensors))
        types = sorted({t.tensor_type.name.lower() for t in tensors})
        row_lengths = sorted({int(t.shape[0]) for t in tensors if len(t.shape) >= 2})
        end = max((int(t.data_offset) + int(t.n_bytes) for t in tensors), default=0)
    except (ValueError, KeyError, IndexError, OSError, TypeError, AssertionError, OverflowError) as exc:
        raise ConfigError(f"{path} is not a readable GGUF file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160] if str(exc) else 'corrupt'})",
                          key="model") from None
    size = path.stat().st_size
    if end > size or not tensors:
        raise ConfigError(f"{path} is a truncated GGUF file (tensor data ends at byte {end}, the file has "
                          f"{size})" if tensors else f"{path} is a GGUF file without tensors", key="model")
    if not isinstance(arch, str):
        raise ConfigError(f"{path} has no general.architecture: not a model GGUF", key="model")
    return {"architecture": arch, "name": name if isinstance(name, str) else path.stem,
            "file_type": file_type_name(ftype if isinstance(ftype, int) else None),
            "n_params": n_params, "size_bytes": size, "tensor_types": types, "n_tensors": len(tensors),
            "row_lengths": row_lengths, "sha256": sha256_file(path)}
