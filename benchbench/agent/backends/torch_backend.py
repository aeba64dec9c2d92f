"""PyTorch backend: a TorchScript (``.pt``, ``torch.jit.load``) or ExportedProgram (``.pt2``,
``torch.export.load``) artifact, run with the board's own torch. Nothing is ever unpickled with
``torch.load``.

Job params: ``device`` (``cpu``/``cuda``), ``num_threads`` (``torch.set_num_threads``), ``compile`` (wrap in
``torch.compile``; the compile time is measured in prepare and reported apart from latency), ``inputs``
([[name, shape, dtype], ...] in call order, seeded), ``quantized_engine`` (int8 TorchScript), and for a
decoder ``decode_artifact`` + ``llm`` (layout) + ``new_tokens``/``generations`` (TTFT, prefill and decode
tokens/s as in ``ort_llm``). The timed window is the forward call under ``torch.inference_mode()``; on CUDA it
ends with ``torch.cuda.synchronize()`` and CUDA-event times are recorded beside the wall clock. fp16/bf16 on a
CPU without native support is ``unsupported`` (torch would emulate it, which measures nothing useful).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any, Dict, List, Tuple

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed, artifact_path

INSTALL_HINT = "install a torch build for this board (pip install torch; on Jetson the NVIDIA wheel)"
_EVENT_POOL = 2048


def _cpu_native(torch: Any, precision: str) -> Tuple[bool, str]:
    """Whether oneDNN has native fp16/bf16 kernels on this CPU (private probes; a missing probe: not
    native)."""
    probe = getattr(torch.ops.mkldnn, f"_is_mkldnn_{precision}_supported", None)
    try:
        ok = bool(probe()) if probe is not None else False
    except RuntimeError:  # a build without oneDNN
        ok = False
    what = "AVX512-FP16/AMX-FP16 or ARMv8.2 FP16" if precision == "fp16" else "AVX512-BF16/AMX or ARM BF16"
    return ok, f"this CPU has no native {precision} ({what}) for oneDNN; torch would emulate it"


def _load(torch: Any, path: str, device: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit deprecation notices
        try:
            if path.endswith(".pt2"):
                mod = torch.export.load(path).module()
                return mod.to(device) if device != "cpu" else mod
            return torch.jit.load(path, map_location=device)
        except Exception as exc:  # noqa: BLE001  torch raises RuntimeError/ValueError/… for a file it cannot read
            raise WorkloadFailed(f"torch could not load {os.path.basename(path)}: "
                                 f"{str(exc).splitlines()[0][:300]}") from None


def _inputs(torch: Any, job: JobSpec, device: str) -> List[Any]:
    gen = torch.Generator().manual_seed(job.seed)
    out = []
    for name, shape, dtype in job.params.get("inputs") or []:
        dt = getattr(torch, dtype, None)
        if dt is None:
            raise WorkloadFailed(f"input {name!r} has dtype {dtype}, which the agent cannot generate")
        if dt.is_floating_point:
            t = torch.randn(shape, generator=gen).to(dt)
        else:
            t = torch.randint(0, int(job.params.get("int_high", 100)), shape, generator=gen).to(dt)
        out.append(t.to(device))
    return out


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    try:
        import torch
    except ImportError as exc:
        raise Unsupported(f"torch is not installed for this board's Python ({exc}): {INSTALL_HINT}") from None
    path = artifact_path(job, artifacts_dir, "the torch backend needs a .pt/.pt2 artifact")
    device = str(job.params.get("device", "cpu"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise Unsupported(f"device {device} asked but torch {torch.__version__} sees no CUDA device (a "
                          "CPU-only build or no GPU)")
    if device == "cpu" and job.precision in ("fp16", "bf16"):
        ok, why = _cpu_native(torch, job.precision)
        if not ok:
            raise Unsupported(f"{job.precision} not applicable here: {why}")
    if job.precision.startswith("int8") and device != "cpu":
        raise Unsupported(f"int8 {job.precision} modules run on the CPU only (fbgemm/qnnpack kernels)")
    engine = job.params.get("quantized_engine")
    if engine:
        if engine not in torch.backends.quantized.supported_engines:
            raise Unsupported(f"this torch has no {engine} quantized engine")
        torch.backends.quantized.engine = engine
    threads = job.params.get("num_threads")
    if threads:
        torch.set_num_threads(int(threads))
    mod = _load(torch, path, device)
    extra: Dict[str, Any] = {"torch": torch.__version__, "device": device,
                             "num_threads": torch.get_num_threads(),
                             "format": "ExportedProgram" if path.endswith(".pt2") else "TorchScript",
                             "quantized_engine": engine}
    if device.startswith("cuda"):
        extra["cuda_device"] = torch.cuda.get_device_name(device)
    if job.params.get("compile"):
        if not path.endswith(".pt2"):
            raise Unsupported("torch.compile needs an ExportedProgram (.pt2); this artifact is TorchScript")
        mod = torch.compile(mod)
    if job.params.get("decode_artifact"):
        dec = _load(torch, os.path.join(artifacts_dir, job.params["decode_artifact"]), device)
        if job.params.get("compile"):
            dec = torch.compile(dec)
        return prepare_llm(torch, job, mod, dec, device, extra)
    args = _inputs(torch, job, device)
    t0 = time.perf_counter()
    try:
        with torch.inference_mode():
            mod(*args)  # first call: compiles under torch.compile, else warms caches
            if device.startswith("cuda"):
                torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001  the model's own error on the generated inputs
        raise WorkloadFailed("the model rejected the generated inputs: "
                             f"{str(exc).splitlines()[0][:300]}") from None
    if job.params.get("compile"):
        extra["compile_s"] = time.perf_counter() - t0
        extra["compile_note"] = "first call under torch.compile (compilation), not part of the latency values"
    extra["inputs"] = {n: [list(s), d] for n, s, d in job.params.get("inputs") or []}
    fn, after = timed_call(torch, mod, args, device)
    return Prepared(fn=fn, extra=extra, after_timing=after,
                    implementation="torch {} {} {}{}".format(
                        torch.__version__, extra["format"], device,
                        " torch.compile" if job.params.get("compile") else ""),
                    timed_window="forward(*inputs) under torch.inference_mode(), inputs preallocated on {}{}"
                                 .format(device, "; ends with torch.cuda.synchronize()"
                                         if device.startswith("cuda") else ""))


def timed_call(torch: Any, mod: Any, args: List[Any], device: str) -> Tuple[Any, Any]:
    """The engine-timed call; on CUDA with a ring of CUDA events whose times are read after timing."""
    if not device.startswith("cuda"):
        def fn() -> Any:
            with torch.inference_mode():
                return mod(*args)
        return fn, None
    pool = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            for _ in range(_EVENT_POOL)]
    state = {"n": 0}

    def cuda_fn() -> Any:
        start, end = pool[state["n"] % _EVENT_POOL]
        state["n"] += 1
        with torch.inference_mode():
            start.record()
            out = mod(*args)
            end.record()
            torch.cuda.synchronize()
        return out

    def after() -> Dict[str, Any]:
        n = min(state["n"], _EVENT_POOL)
        times = sorted(s.elapsed_time(e) / 1e3 for s, e in pool[:n])
        return {"cuda_event_s": {"n": n, "p50": times[n // 2] if n else None, "min": times[0] if n else None,
                                 "values": times[:200],
                                 "note": f"GPU time between CUDA events around forward (last {n} calls)"}}
    return cuda_fn, after


def _median(values: List[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def prepare_llm(torch: Any, job: JobSpec, pre: Any, dec: Any, device: str, extra: Dict[str, Any]) -> Prepared:
    """Greedy generations for TTFT / prefill / decode tokens/s (in ``extra``, as ``ort_llm``); the engine then
    times one decode step at position ``seq_len`` with the prefill cache (not advanced: every call the
    same)."""
    llm = job.params.get("llm") or {}
    seq_len, max_len, vocab = int(llm["seq_len"]), int(llm["max_len"]), int(llm["vocab"])
    new_tokens = int(job.params.get("new_tokens", 32))
    if seq_len + new_tokens > max_len:
        raise WorkloadFailed(f"new_tokens={new_tokens} does not fit: prompt {seq_len} + new tokens > cache "
                             f"length {max_len}")
    gen = torch.Generator().manual_seed(job.seed)
    prompt = torch.randint(0, vocab, (1, seq_len), generator=gen).to(device)
    cuda = device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def generate() -> Dict[str, Any]:
        with torch.inference_mode():
            t0 = time.perf_counter_ns()
            logits, cache = pre(prompt)
            token = int(logits[0, -1].argmax())
            t1 = time.perf_counter_ns()
            tokens = [token]
            for i in range(new_tokens - 1):
                ids = torch.tensor([[token]], dtype=torch.int64, device=device)
                pos = torch.tensor([seq_len + i], dtype=torch.int64, device=device)
                logits, cache = dec(ids, pos, cache)
                token = int(logits[0, -1].argmax())  # .item() syncs the device
                tokens.append(token)
            sync()
            t2 = time.perf_counter_ns()
        return {"ttft_s": (t1 - t0) / 1e9, "decode_s": (t2 - t1) / 1e9, "tokens": tokens}

    t0 = time.perf_counter()
    try:
        generate()  # warm-up (and compilation under torch.compile)
    except Exception as exc:  # noqa: BLE001  the model's own error
        raise WorkloadFailed(f"generation failed: {str(exc).splitlines()[0][:300]}") from None
    if job.params.get("compile"):
        extra["compile_s"] = time.perf_counter() - t0
        extra["compile_note"] = ("warm-up generation under torch.compile (compilation), "
                                 "not in the latency values")
    runs = [generate() for _ in range(int(job.params.get("generations", 3)))]
    steps = max(new_tokens - 1, 1)
    ttft = [r["ttft_s"] for r in runs]
    decode_step = [r["decode_s"] / steps for r in runs]
    extra.update({
        "prompt_tokens": seq_len, "new_tokens": new_tokens, "generations": len(runs),
        "ttft_s": _median(ttft), "ttft_values_s": ttft, "prefill_tok_per_s": seq_len / _median(ttft),
        "decode_step_s": _median(decode_step), "decode_step_values_s": decode_step,
        "decode_tok_per_s": 1.0 / _median(decode_step), "generated_tokens": runs[0]["tokens"],
        "ttft_window": "prefill forward on the prompt ids + argmax of the last logits "
                       "(torch, inference_mode)",
        "decode_window": "per step: decode forward fed the previous stacked cache + argmax; "
                         f"{steps} steps averaged",
    })
    with torch.inference_mode():
        logits, cache = pre(prompt)
    args = [logits[:, -1:].argmax(-1), torch.tensor([seq_len], dtype=torch.int64, device=device), cache]
    fn, after = timed_call(torch, dec, args, device)
    return Prepared(fn=fn, extra=extra, after_timing=after,
                    implementation="torch {} {} {} decoder prefill+decode (static KV cache {}){}"
                                   .format(torch.__version__, extra["format"], device, max_len,
                                      " torch.compile" if job.params.get("compile") else ""),
                    timed_window="one decode step (forward fed the {}-position stacked cache, under "
                                 "torch.inference_mode) at position {}; cache not advanced{}"
                                 .format(max_len, seq_len,
                                         "; ends with torch.cuda.synchronize()" if cuda else ""))
