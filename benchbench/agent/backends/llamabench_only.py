"""The ``llama.cpp`` backend on a board without llama-cpp-python: llama-bench IS the measurement (self-timed).

Latency values are llama-bench's tg repetitions, each ``samples_ns / n_gen`` (one value = ``n_gen`` decode
steps after an ``n_prompt``-token context, ``-d 0,N``; from position 0 on a build without ``-d``, which
``tg_depth`` in ``extra["llama_bench"]`` and both windows say; ``number`` = n_gen); TTFT is its pp time
(prompt decode from an empty cache only, no sampling); the round spans the llama-bench process, so energy over
it includes model load and warm-up (an upper bound per token). Peak RSS is llama-bench's (``ru_maxrss`` of
the child).
"""

from __future__ import annotations

import resource
import time
from typing import Any, Dict, Tuple

from ..protocol import JobSpec
from ..timing import Round, TimerInfo, TimingResult, characterise_timer
from . import Prepared, WorkloadFailed, llamabench


def _windows(s: Dict[str, Any], depth: int) -> Tuple[str, str]:
    """(decode_window, timed_window) for tg run after ``depth`` positions (0: a build without ``-d``)."""
    where = f"after a {depth}-token context" if depth else "from position 0 (this llama-bench has no -d)"
    decode = f"llama-bench tg{s['n_gen']}: single-token decodes {where}, random tokens, no sampling"
    timed = (f"llama-bench tg{s['n_gen']} repetitions, each value = its time / {s['n_gen']} tokens (one "
             f"decode step, {where}); random tokens, no sampling; the round spans the llama-bench process "
             "(model load and warm-up included in its energy)")
    return decode, timed


def prepare_bench_only(job: JobSpec, path: str, s: Dict[str, Any], bench: str) -> Prepared:
    reps = max(1, int(job.params.get("llama_bench_reps", 3)))

    def run_self(energy_window_s: float = 0.0) -> Tuple[TimingResult, Dict[str, Any], Dict[str, Any]]:
        t0 = time.monotonic_ns()
        try:
            res = llamabench.run(bench, path, s, max(reps, job.timing.rounds), s["n_prompt"], s["n_gen"],
                                 timeout_s=max(10.0, 0.9 * job.timeout_s))
        except RuntimeError as exc:
            raise WorkloadFailed(str(exc)) from None
        t1 = time.monotonic_ns()
        tg, pp = res.get("tg"), res.get("pp")
        if not tg or not pp:
            raise WorkloadFailed("llama-bench reported no pp/tg rows")
        values = [float(ns) / 1e9 / s["n_gen"] for ns in tg["samples_ns"]]
        ttft = [float(ns) / 1e9 for ns in pp["samples_ns"]]
        t = characterise_timer()
        timing = TimingResult(timer=TimerInfo(t.resolution_ns, t.call_cost_ns,
                                              clock="llama-bench get_time_ns"),
                              warmup_iters=1, warmup_s=0.0, number=s["n_gen"], calibration=[],
                              rounds=[Round(t_start_ns=t0, t_end_ns=t1, values_s=values,
                                            raw_values_s=values)])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        memory = {"method": "ru_maxrss of the llama-bench child process", "peak_rss_bytes": peak or None}
        ttft.sort()
        med_ttft = ttft[len(ttft) // 2]
        decode_window, timed_window = _windows(s, res["tg_depth"])
        extra = {"llm_source": "llama.cpp backend (llama-bench alone)", "llama_bench": {
                     "binary": bench, "argv": res["argv"], "build": res["build"], "reps": len(values),
                     "tg_depth": res["tg_depth"],
                     "pp_tok_per_s": float(pp["avg_ts"]), "tg_tok_per_s": float(tg["avg_ts"])},
                 "settings": s, "prompt_tokens": s["n_prompt"], "new_tokens": s["n_gen"],
                 "generations": len(values),
                 "ttft_s": med_ttft, "ttft_values_s": ttft, "prefill_tok_per_s": float(pp["avg_ts"]),
                 "decode_tok_per_s": float(tg["avg_ts"]),
                 "ttft_window": "llama-bench pp{}: the prompt decoded from an empty cache, no sampling"
                                .format(s["n_prompt"]),
                 "decode_window": decode_window,
                 # the depth is known only now: the worker replaces the window given at prepare time
                 "timed_window": timed_window}
        return timing, memory, extra

    return Prepared(fn=lambda: None, run_self=run_self,
                    implementation=f"llama.cpp llama-bench {bench} (no llama-cpp-python on this board)",
                    # what is asked for (-d 0,N); run_self's extra says what the build did
                    timed_window=_windows(s, s["n_prompt"])[1])
