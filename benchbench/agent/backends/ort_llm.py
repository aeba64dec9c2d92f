"""ONNX Runtime decoder-LLM backend: TTFT, prefill tokens/s and decode tokens/s with a KV cache.

The job's ``artifact`` is the prefill graph and ``params["decode_artifact"]`` the decode graph (both
built by benchbench.workloads.models.decoder; their layout is read from the model metadata).

Two things are measured:

* In ``prepare`` (reported in ``extra``), ``params["generations"]`` (default 3) greedy generations after
  one warm-up generation. TTFT = prefill ``session.run`` + argmax of the last logits, from the prompt
  ids to the first token. Decode = ``new_tokens`` steps, each a ``session.run`` of the decode graph fed
  the previous step's cache outputs, plus the argmax. Python-side feed/output copies are inside both
  windows, as they are for any Python ORT application. Medians are reported with every raw value.
* The engine-timed ``fn`` is one decode step at position ``seq_len`` with the prefill cache (the cache is
  not advanced between calls, so every call costs the same): its latency is the per-token decode latency.

Both sessions are alive at once, so thread-pool spinning is off by default (it skews the other session).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed, ort_providers


def _options(ort: Any, job: JobSpec) -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(job.params.get("intra_op_threads", 0))
    so.add_session_config_entry("session.intra_op.allow_spinning",
                                "1" if job.params.get("allow_spinning", False) else "0")
    so.log_severity_level = 3
    return so


def _session(ort: Any, path: str, job: JobSpec, providers: List[str]) -> Any:
    try:
        return ort.InferenceSession(path, sess_options=_options(ort, job), providers=providers)
    except Exception as exc:  # noqa: BLE001  ORT's untyped load errors
        raise WorkloadFailed(f"onnxruntime could not load {os.path.basename(path)}: {exc}") from None


def _layout(sess: Any) -> Dict[str, Any]:
    raw = sess.get_modelmeta().custom_metadata_map.get("benchbench.model")
    if not raw:
        raise WorkloadFailed("the prefill model has no benchbench.model metadata (not a benchbench decoder)")
    meta = json.loads(raw)
    if "llm" not in meta:
        raise WorkloadFailed("the prefill model's metadata has no LLM layout")
    return meta["llm"]  # type: ignore[no-any-return]


def _median(values: List[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as exc:
        raise Unsupported(f"onnxruntime is not installed for this board's Python: {exc}") from None
    if not job.artifact or not job.params.get("decode_artifact"):
        raise WorkloadFailed("onnxruntime-llm needs artifact (prefill) and params.decode_artifact (decode)")
    providers, pinfo = ort_providers.select(ort, job)
    dec_path = os.path.join(artifacts_dir, job.params["decode_artifact"])
    pre = _session(ort, os.path.join(artifacts_dir, job.artifact), job, providers)
    dec = _session(ort, dec_path, job, providers)
    ort_providers.record_used(dec, pinfo, job)  # the timed graph's providers
    llm = _layout(pre)
    seq_len, max_len, vocab = int(llm["seq_len"]), int(llm["max_len"]), int(llm["vocab"])
    new_tokens = int(job.params.get("new_tokens", 32))
    if seq_len + new_tokens > max_len:
        raise WorkloadFailed(f"new_tokens={new_tokens} does not fit: prompt {seq_len} + new tokens > cache "
                             f"length {max_len}")
    prompt = np.random.default_rng(job.seed).integers(0, vocab, size=(1, seq_len), dtype=np.int64)
    pre_out = [o.name for o in pre.get_outputs()]
    dec_out = [o.name for o in dec.get_outputs()]
    clock = time.perf_counter_ns

    def generate() -> Dict[str, Any]:
        t0 = clock()
        outs = pre.run(pre_out, {"input_ids": prompt})
        token = int(outs[0][0, -1].argmax())
        t1 = clock()
        cache = {n.replace("present_", "past_", 1): v for n, v in zip(pre_out[1:], outs[1:])}
        tokens = [token]
        for i in range(new_tokens - 1):
            feed = dict(cache, input_ids=np.array([[token]], dtype=np.int64),
                        position=np.array([seq_len + i], dtype=np.int64))
            outs = dec.run(dec_out, feed)
            token = int(outs[0][0, -1].argmax())
            tokens.append(token)
            cache = {n.replace("present_", "past_", 1): v for n, v in zip(dec_out[1:], outs[1:])}
        t2 = clock()
        return {"ttft_s": (t1 - t0) / 1e9, "decode_s": (t2 - t1) / 1e9, "tokens": tokens}

    try:
        generate()  # warm-up
        runs = [generate() for _ in range(int(job.params.get("generations", 3)))]
    except Exception as exc:  # noqa: BLE001  the model's own error
        raise WorkloadFailed(f"generation failed: {str(exc).splitlines()[0]}") from None
    steps = max(new_tokens - 1, 1)
    ttft = [r["ttft_s"] for r in runs]
    decode_step = [r["decode_s"] / steps for r in runs]
    extra = {
        **pinfo,
        "onnxruntime": ort.__version__, "prefill_providers_used": pre.get_providers(),
        "prompt_tokens": seq_len, "new_tokens": new_tokens, "generations": len(runs),
        "ttft_s": _median(ttft), "ttft_values_s": ttft,
        "prefill_tok_per_s": seq_len / _median(ttft),
        "decode_step_s": _median(decode_step), "decode_step_values_s": decode_step,
        "decode_tok_per_s": 1.0 / _median(decode_step),
        "generated_tokens": runs[0]["tokens"],
        "ttft_window": "prefill session.run on the prompt ids + argmax of the last logits (Python API)",
        "decode_window": "per step: decode session.run fed the previous cache outputs + argmax; "
                         f"{steps} steps averaged (the first token comes from prefill)",
        "allow_spinning": bool(job.params.get("allow_spinning", False)),
    }
    outs = pre.run(pre_out, {"input_ids": prompt})
    step_feed = {n.replace("present_", "past_", 1): v for n, v in zip(pre_out[1:], outs[1:])}
    step_feed["input_ids"] = np.array([[int(outs[0][0, -1].argmax())]], dtype=np.int64)
    step_feed["position"] = np.array([seq_len], dtype=np.int64)
    return Prepared(fn=lambda: dec.run(dec_out, step_feed), extra=extra,
                    implementation="onnxruntime {} {} decoder prefill+decode (static KV cache {})"
                                   .format(ort.__version__, "+".join(dec.get_providers()), max_len),
                    after_timing=lambda: ort_providers.node_placement(
                        ort, dec_path, lambda: _options(ort, job), providers, step_feed),
                    timed_window=f"one decode step (decode session.run incl. feeding the {max_len}-position "
                                 f"cache and copying its outputs) at position {seq_len}; cache not advanced")
