"""Which environment differences make two measurements not comparable as-is.

Snapshots are nested dicts (``benchbench.agent.envinfo.board_snapshot`` plus per-job extras). They are
flattened to dotted paths; a path matters when one of its components names something that changes
performance: kernel, OS, runtime/SDK/driver/firmware versions, power mode, governors, performance
environment variables, the CPU model. Volatile readings (hostname, load, free memory, temperatures,
the interpreter path) are ignored: they differ between any two runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: a flattened path matters when any of its components is one of these
RELEVANT = frozenset({
    "kernel", "os", "firmware", "bootloader", "power_mode", "nvpmodel", "jetson_clocks", "governor",
    "governors", "libraries", "runtime", "runtimes", "sdk", "driver", "drivers", "jetpack", "l4t", "cann",
    "rknpu", "rknn", "npu_driver", "cuda", "tensorrt", "cpu_model", "env", "ep", "execution_provider",
    "intra_op_threads", "threads",
})
IGNORED = frozenset({"hostname", "executable", "loadavg", "mem", "mem_total_bytes", "temps", "uptime_s"})
_PYTHON_VERSION = "python.version"


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, path))
        else:
            out[path] = v
    return out


def _relevant(path: str) -> bool:
    parts = path.lower().split(".")
    if any(p in IGNORED for p in parts):
        return False
    return path.lower() == _PYTHON_VERSION or any(p in RELEVANT for p in parts)


def env_differences(env_a: Mapping[str, Any], env_b: Mapping[str, Any]) -> list[str]:
    """One short line per relevant difference, e.g. ``kernel: 6.1.0 → 6.6.3``; sorted by path."""
    if env_a == env_b:  # the common case (a board's jobs share its snapshot): no flattening per job pair
        return []
    fa, fb = flatten(env_a), flatten(env_b)
    out: list[str] = []
    for path in sorted(set(fa) | set(fb)):
        if not _relevant(path):
            continue
        va, vb = fa.get(path, "(absent)"), fb.get(path, "(absent)")
        if va != vb:
            out.append(f"{path}: {va} → {vb}")
    return out


def differing_paths(envs: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Across several environments (e.g. the boards of one run): every relevant path whose value is not
    the same in all of them, as (path, name → value or ``(absent)``), sorted by path."""
    flat = {name: flatten(env) for name, env in envs.items()}
    paths = sorted({p for f in flat.values() for p in f if _relevant(p)})
    out: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        values = {name: f.get(path, "(absent)") for name, f in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out.append((path, values))
    return out
