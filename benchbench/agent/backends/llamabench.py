"""llama.cpp's own ``llama-bench``: found on the board, run with the job's settings, parsed from ``-o json``.

Used twice by the ``llama.cpp`` backend: beside llama-cpp-python for the side-by-side ratio (the tool users
trust, same model and settings, same job), and alone on a board without llama-cpp-python (then it is the
measurement). llama-bench times ``pp N`` (the prompt decoded in ``n_batch`` chunks from an empty cache) and
``tg N`` (N single-token decodes after ``-d D`` positions, position 0 without it) with random tokens, no
tokenization, no sampling; each repetition is one sample (``samples_ns``) after one warm-up run. benchbench
runs ``-d 0,N``: pp from an empty cache and tg after the ``n_prompt``-token context, the positions its own
decode steps run at (``parse`` keeps the shallowest pp and the deepest tg row); a build without ``-d`` runs
tg from position 0, and ``tg_depth`` in ``run``'s result says which it was. Stdlib only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any, Dict, List, Optional

#: where the binary may be named when it is not on PATH
ENV_VAR = "BENCHBENCH_LLAMA_BENCH"
_FA = {True: "on", False: "off", None: "auto", "on": "on", "off": "off", "auto": "auto"}


def find(params: Dict[str, Any]) -> Optional[str]:
    """``params["llama_bench"]`` (a path, or false to disable), else $BENCHBENCH_LLAMA_BENCH, else PATH."""
    given = params.get("llama_bench")
    if given is False:
        return None
    for cand in (given, os.environ.get(ENV_VAR), shutil.which("llama-bench")):
        if isinstance(cand, str) and cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    return None


def _fa_arg(binary: str, flash_attn: Any) -> str:
    """New builds take on|off|auto, older ones 0|1: ask the binary's --help which."""
    value = _FA.get(flash_attn, "auto")
    try:
        helptext = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        helptext = ""
    if "on|off|auto" in helptext:
        return value
    return "1" if value == "on" else "0"


def argv(binary: str, model: str, s: Dict[str, Any], reps: int, n_prompt: int, n_gen: int,
         depth: bool = True) -> List[str]:
    """The command for the job's settings (``s``: threads, batch, ubatch, n_gpu_layers, flash_attn). With
    ``depth``, ``-d 0,N``: pp from an empty cache and tg after an N-token context, the positions benchbench's
    decode steps run at (on a small model attention over N more positions is a visible part of a step)."""
    return [binary, "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-t", str(s["threads"]),
            "-b", str(s["batch"]), "-ub", str(s["ubatch"]), "-ngl", str(s["n_gpu_layers"]),
            "-fa", _fa_arg(binary, s["flash_attn"]), "-r", str(reps), "-o", "json"] + (
                ["-d", f"0,{n_prompt}"] if depth else [])


def parse(text: str) -> Dict[str, Any]:
    """``-o json`` output (a JSON array, one object per test) → {"pp": row, "tg": row, "build": …}.

    A row keeps llama-bench's own fields (``avg_ts``, ``stddev_ts``, ``samples_ns``, ``samples_ts``,
    ``n_prompt``, ``n_gen``, ``n_threads``…). Raises ValueError for output that is not that."""
    start = text.find("[")
    if start < 0:
        raise ValueError("no JSON array in llama-bench output")
    rows = json.loads(text[start:])
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("llama-bench JSON is not a non-empty array of objects")
    out: Dict[str, Any] = {}
    for r in rows:
        for need in ("n_prompt", "n_gen", "avg_ts", "samples_ns"):
            if need not in r:
                raise ValueError(f"llama-bench row without {need!r}")
        kind = "pp" if int(r["n_prompt"]) > 0 and int(r["n_gen"]) == 0 else (
            "tg" if int(r["n_gen"]) > 0 and int(r["n_prompt"]) == 0 else "pg")
        depth = int(r.get("n_depth") or 0)
        prev = out.get(kind)  # pp: the shallowest row (empty cache); tg: the deepest (after the prompt)
        if prev is None or (depth < int(prev.get("n_depth") or 0) if kind == "pp" else
                            depth > int(prev.get("n_depth") or 0)):
            out[kind] = r
    first = rows[0]
    keys = ("build_commit", "build_number", "cpu_info", "gpu_info", "backends", "model_type", "model_size",
            "model_n_params", "n_threads", "n_batch", "n_ubatch", "n_gpu_layers", "flash_attn")
    out["build"] = {k: first.get(k) for k in keys}
    return out


def run(binary: str, model: str, s: Dict[str, Any], reps: int, n_prompt: int, n_gen: int,
        timeout_s: float) -> Dict[str, Any]:
    """Run and parse; raises RuntimeError with llama-bench's last stderr line when it fails. A build without
    ``-d`` (before 2025) is run again without it (then tg starts at position 0: ``tg_depth`` says so)."""
    try:
        return _run(argv(binary, model, s, reps, n_prompt, n_gen), timeout_s)
    except RuntimeError as exc:
        if "-d" not in str(exc) and "depth" not in str(exc) and "invalid" not in str(exc).lower():
            raise
    return _run(argv(binary, model, s, reps, n_prompt, n_gen, depth=False), timeout_s)


def _run(cmd: List[str], timeout_s: float) -> Dict[str, Any]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"llama-bench did not finish within {timeout_s:.0f} s") from None
    except OSError as exc:
        raise RuntimeError(f"llama-bench could not be started: {exc}") from None
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["(no stderr)"]
        raise RuntimeError(f"llama-bench exited with {proc.returncode}: {tail[0][:300]}")
    try:
        res = parse(proc.stdout)
    except ValueError as exc:
        raise RuntimeError(f"unreadable llama-bench output: {exc}") from None
    res["argv"] = cmd[1:]
    res["tg_depth"] = int((res.get("tg") or {}).get("n_depth") or 0)
    return res
