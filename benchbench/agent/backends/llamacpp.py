"""llama.cpp backend for GGUF models: through llama-cpp-python's C API when importable, else the board's
``llama-bench`` (``llamabench``), else ``unsupported`` with the install hint.

Job params: ``threads`` (default: the CPUs this process may use), ``batch`` (2048) / ``ubatch`` (512),
``n_gpu_layers`` (99: all, as llama-bench; a no-op on a CPU build), ``flash_attn`` (on/off/auto), ``n_prompt``
(512) and ``n_gen`` (128) as llama-bench's pp/tg, ``generations`` (3), ``llama_bench`` (path, or false: no
side-by-side run), ``llama_bench_reps`` (3).

With llama-cpp-python (the C functions ``llama_decode``…, not the high-level ``Llama`` class, so nothing
but llama.cpp is inside the windows; a threadpool is attached as llama.cpp's own tools do):

* TTFT, prefill and decode tokens/s (in ``extra``): ``generations`` greedy generations after one warm-up.
  Prompt = ``n_prompt`` seeded random token ids (BOS first when the model adds one), so no tokenization is
  timed. TTFT = the prompt decoded in ``batch``-sized chunks from an empty cache + reading the last logits +
  argmax (the first token). Decode = ``n_gen - 1`` single-token ``llama_decode`` calls, each followed by
  reading the logits and a numpy argmax (greedy sampling) — inside the window.
* The engine-timed ``fn`` (latency, the steady-state energy phase, the paired quantization verdicts) is ONE
  decode step at position ``n_prompt``: the previous step's KV entry is removed first so every call costs the
  same; logits computed, not read. Energy per inference is therefore energy per decoded token.
* llama-bench, where found, runs the same model and settings in the same job between the two halves of the
  generations; the ratio of decode tok/s (benchbench ÷ llama-bench tg) is in ``extra``.
"""

from __future__ import annotations

import ctypes
import os
import random
import time
from typing import Any, Dict, List, Tuple

from ..protocol import JobSpec
from . import Prepared, Unsupported, WorkloadFailed, artifact_path, llamabench

INSTALL_HINT = ("install llama-cpp-python on the board (pip install 'llama-cpp-python>=0.3'; it builds "
                "llama.cpp from source: CMAKE_ARGS=-DGGML_CUDA=on on Jetson), or put llama.cpp's llama-bench "
                "on PATH, set $BENCHBENCH_LLAMA_BENCH, or give params.llama_bench")
_SAMPLING = "argmax (greedy) over the last logits in numpy"


def settings(job: JobSpec) -> Dict[str, Any]:
    p = job.params
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    fa = p.get("flash_attn", "auto")
    if fa not in (True, False, None, "on", "off", "auto"):
        raise WorkloadFailed(f"flash_attn must be on, off or auto (got {fa!r})")
    s = {"threads": int(p.get("threads") or cpus), "batch": int(p.get("batch", 2048)),
         "ubatch": int(p.get("ubatch", 512)), "n_gpu_layers": int(p.get("n_gpu_layers", 99)),
         "flash_attn": {True: "on", False: "off", None: "auto"}.get(fa, fa),
         "n_prompt": int(p.get("n_prompt", 512)), "n_gen": int(p.get("n_gen", 128))}
    if s["n_prompt"] < 1 or s["n_gen"] < 2:
        raise WorkloadFailed("n_prompt must be >= 1 and n_gen >= 2 (got {}, {})"
                             .format(s["n_prompt"], s["n_gen"]))
    return s


def _median(values: List[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


_LOG_CB: List[Any] = []  # the one callback of this process: llama.cpp keeps its pointer globally, never freed


class _Logs:
    """llama.cpp's log lines, kept (not printed) so a failed load can say why."""

    def __init__(self, lc: Any) -> None:
        self.lines: List[str] = []

        def cb(level: int, text: bytes, user: Any) -> None:
            if text:
                self.lines.append(text.decode("utf-8", "replace").rstrip())
                del self.lines[:-200]
        _LOG_CB.append(lc.llama_log_callback(cb))
        lc.llama_log_set(_LOG_CB[-1], ctypes.c_void_p())

    def why(self) -> str:
        errs = [ln for ln in self.lines if "error" in ln.lower() or "unknown" in ln.lower()]
        return (errs or self.lines or ["no log output"])[-1].strip()[:300]


def _attach_threadpool(lc: Any, ctx: Any, n_threads: int) -> Tuple[str, Any]:
    """A persistent ggml threadpool, as llama-cli/llama-bench attach; without it ggml spawns threads per
    graph. llama-cpp-python does not bind these functions, so they are looked up in its shared libraries."""
    libdir = os.path.join(os.path.dirname(lc.__file__), "lib")
    try:
        cpu = ctypes.CDLL(os.path.join(libdir, "libggml-cpu.so"))
        base = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"))
        llama = ctypes.CDLL(os.path.join(libdir, "libllama.so"))
        buf = ctypes.create_string_buffer(1024)  # struct ggml_threadpool_params (~528 bytes)
        base.ggml_threadpool_params_init(buf, ctypes.c_int(n_threads))
        cpu.ggml_threadpool_new.restype = ctypes.c_void_p
        pool = cpu.ggml_threadpool_new(buf)
        if not pool:
            return "none (ggml_threadpool_new failed): ggml threads created per graph", None
        llama.llama_attach_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        llama.llama_attach_threadpool(ctx, ctypes.c_void_p(pool), ctypes.c_void_p(pool))
    except (OSError, AttributeError) as exc:
        return f"none ({str(exc)[:120]}): ggml threads created per graph", None
    cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
    return (f"persistent ggml threadpool of {n_threads} threads (default params, as llama-bench)",
            lambda: cpu.ggml_threadpool_free(ctypes.c_void_p(pool)))


def _load(lc: Any, path: str, s: Dict[str, Any], n_ctx: int) -> Tuple[Any, Any, _Logs]:
    logs = _Logs(lc)
    lc.llama_backend_init()
    mp = lc.llama_model_default_params()
    mp.n_gpu_layers = s["n_gpu_layers"]
    model = lc.llama_model_load_from_file(path.encode(), mp)
    if not model:
        why = logs.why()
        if "unknown model architecture" in why or "unknown architecture" in why:
            raise Unsupported(f"this llama.cpp cannot run the model: {why}")
        raise WorkloadFailed(f"llama.cpp could not load {os.path.basename(path)}: {why}")
    cp = lc.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, s["batch"], s["ubatch"]
    cp.n_threads = cp.n_threads_batch = s["threads"]
    cp.flash_attn_type = {"on": 1, "off": 0, "auto": -1}[s["flash_attn"]]
    cp.no_perf = True
    ctx = lc.llama_init_from_model(model, cp)
    if not ctx:
        raise WorkloadFailed(f"llama.cpp could not create a context for {os.path.basename(path)}: "
                             f"{logs.why()}")
    return model, ctx, logs


def prepare(job: JobSpec, artifacts_dir: str) -> Prepared:
    path = artifact_path(job, artifacts_dir, "the llama.cpp backend needs a .gguf artifact")
    s = settings(job)
    bench = llamabench.find(job.params)
    try:
        import llama_cpp as lc
        import numpy as np
    except ImportError as exc:
        if bench is None:
            raise Unsupported(f"neither llama-cpp-python ({exc}) nor llama-bench on this board: "
                              f"{INSTALL_HINT}") from None
        from .llamabench_only import prepare_bench_only
        return prepare_bench_only(job, path, s, bench)
    n_prompt, n_gen = s["n_prompt"], s["n_gen"]
    t_load = time.perf_counter()
    model, ctx, logs = _load(lc, path, s, n_prompt + n_gen + 1)
    load_s = time.perf_counter() - t_load
    pool, free_pool = _attach_threadpool(lc, ctx, s["threads"])
    vocab = lc.llama_model_get_vocab(model)
    n_vocab = int(lc.llama_vocab_n_tokens(vocab))
    mem = lc.llama_get_memory(ctx)
    rng = random.Random(job.seed)
    prompt = [rng.randrange(n_vocab) for _ in range(n_prompt)]
    if lc.llama_vocab_get_add_bos(vocab):
        prompt[0] = int(lc.llama_vocab_bos(vocab))
    chunks = [(lc.llama_token * len(c))(*c)
              for c in (prompt[i:i + s["batch"]] for i in range(0, n_prompt, s["batch"]))]
    one = (lc.llama_token * 1)(0)
    clock = time.perf_counter_ns

    batches = [lc.llama_batch_get_one(arr, len(arr)) for arr in chunks]
    one_batch = lc.llama_batch_get_one(one, 1)  # reads one[0] at each llama_decode: built once
    view: Dict[str, Any] = {"addr": None, "arr": None}

    def decode(batch: Any) -> None:
        rc = lc.llama_decode(ctx, batch)
        if rc != 0:
            raise WorkloadFailed(f"llama_decode returned {rc} ({logs.why()})")

    def prefill() -> None:
        for b in batches:
            decode(b)

    def argmax_last() -> int:
        ptr = lc.llama_get_logits_ith(ctx, -1)
        addr = ctypes.addressof(ptr.contents)
        if addr != view["addr"]:  # a numpy view made once per logits buffer (making one costs ~6 us)
            view.update(addr=addr, arr=np.ctypeslib.as_array(ptr, shape=(n_vocab,)))
        return int(view["arr"].argmax())

    def generate() -> Dict[str, Any]:
        lc.llama_memory_clear(mem, True)
        t0 = clock()
        prefill()
        token = argmax_last()
        t1 = clock()
        for _ in range(n_gen - 1):
            one[0] = token
            decode(one_batch)
            token = argmax_last()
        t2 = clock()
        return {"ttft_s": (t1 - t0) / 1e9, "decode_s": (t2 - t1) / 1e9}

    extra: Dict[str, Any] = {
        "llama_cpp_python": getattr(lc, "__version__", "?"), "settings": s, "load_s": load_s,
        "threadpool": pool,
        "model_desc": _desc(lc, model), "model_size_bytes": int(lc.llama_model_size(model)),
        "model_n_params": int(lc.llama_model_n_params(model)), "n_vocab": n_vocab,
        "system_info": (lc.llama_print_system_info() or b"").decode("utf-8", "replace").strip()}
    generate()  # warm-up, as llama-bench's
    g = max(1, int(job.params.get("generations", 3)))
    runs = [generate() for _ in range(g)]
    steps = n_gen - 1
    if bench:  # its paired generations count as generations too: more samples for the medians
        extra["llama_bench"] = _side_by_side(bench, path, s, job, generate, steps, runs)
    ttft = [r["ttft_s"] for r in runs]
    step_s = [r["decode_s"] / steps for r in runs]
    extra.update({
        "llm_source": "llama.cpp backend (llama-cpp-python C API)",
        "prompt_tokens": n_prompt, "new_tokens": n_gen, "generations": len(runs),
        "ttft_s": _median(ttft), "ttft_values_s": ttft, "prefill_tok_per_s": n_prompt / _median(ttft),
        "decode_step_s": _median(step_s), "decode_step_values_s": step_s,
        "decode_tok_per_s": 1 / _median(step_s),
        "ttft_window": "the {}-token prompt (seeded random ids, no tokenization) through llama_decode in "
                       "chunks of {} from an empty cache + reading the last logits + {}"
                       .format(n_prompt, s["batch"], _SAMPLING),
        "decode_window": f"per step: llama_decode of one token + reading its logits + {_SAMPLING}; {steps} "
                         f"steps averaged, positions {n_prompt + 1}..{n_prompt + steps}"})
    lb = extra.get("llama_bench") or {}
    if lb.get("tg_ratio"):  # median of the paired ratios (one benchbench generation / one llama-bench run)
        extra["llama_bench_decode_ratio"] = lb["tg_ratio"]
    if lb.get("pp_ratio"):
        extra["llama_bench_prefill_ratio"] = lb["pp_ratio"]
    lc.llama_memory_clear(mem, True)
    prefill()
    one[0] = argmax_last()
    step_batch = one_batch

    def step() -> None:
        lc.llama_memory_seq_rm(mem, 0, n_prompt, -1)  # the previous call's entry: every call at one position
        lc.llama_decode(ctx, step_batch)
        lc.llama_synchronize(ctx)

    def teardown() -> None:
        lc.llama_free(ctx)
        lc.llama_model_free(model)
        if free_pool is not None:
            free_pool()

    return Prepared(fn=step, extra=extra, teardown=teardown,
                    implementation="llama.cpp via llama-cpp-python {} ({}), {} threads"
                                   .format(extra["llama_cpp_python"], extra["model_desc"], s["threads"]),
                    timed_window=f"one decode step: llama_decode of one token at position {n_prompt} + "
                                 "llama_synchronize (the previous step's KV entry removed first, so every "
                                 "call is the same step); logits computed, not read; no sampling")


def _desc(lc: Any, model: Any) -> str:
    buf = ctypes.create_string_buffer(256)
    lc.llama_model_desc(model, buf, 256)
    return buf.value.decode("utf-8", "replace")


def _side_by_side(bench: str, path: str, s: Dict[str, Any], job: JobSpec, generate: Any,
                  steps: int, runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Pairs of (one benchbench generation, one llama-bench run ``-r 1``), alternated ``llama_bench_reps``
    times, so a change of background load hits both tools alike; the ratios are per pair, their median
    reported."""
    pairs = max(1, int(job.params.get("llama_bench_reps", 3)))
    rows: Dict[str, List[float]] = {"pp": [], "tg": []}
    own: List[Dict[str, Any]] = []
    res: Dict[str, Any] = {}
    for _ in range(pairs):
        own.append(generate())
        try:
            res = llamabench.run(bench, path, s, 1, s["n_prompt"], s["n_gen"],
                                 timeout_s=max(10.0, 0.4 * job.timeout_s / pairs))
        except RuntimeError as exc:
            return {"binary": bench, "error": str(exc)}
        for kind, got in rows.items():
            if res.get(kind):
                got.append(float(res[kind]["avg_ts"]))
    out: Dict[str, Any] = {"binary": bench, "argv": res["argv"], "build": res["build"], "reps": pairs,
                           "tg_depth": res["tg_depth"],
                           "window": f"llama-bench -r 1, {pairs} times, each after one benchbench "
                                     "generation: pp = the prompt decoded from an empty cache, "
                                     f"tg = {s['n_gen']} single-token decodes after a "
                                     f"{res['tg_depth']}-token context; random tokens, no sampling; "
                                     "one warm-up run each"}
    mine = {"tg": [steps / r["decode_s"] for r in own], "pp": [s["n_prompt"] / r["ttft_s"] for r in own]}
    for kind in ("pp", "tg"):
        if rows[kind]:
            out[f"{kind}_tok_per_s"] = _median(rows[kind])
            out[f"{kind}_samples_ts"] = rows[kind]
            out[f"{kind}_paired_ratios"] = [a / b for a, b in zip(mine[kind], rows[kind])]
            out[f"{kind}_ratio"] = _median(out[f"{kind}_paired_ratios"])
    out["benchbench_tg_samples_tok_per_s"] = mine["tg"]
    runs.extend(own)
    return out
