"""Environment snapshots: the board once per run, and the volatile parts (clocks, temperatures, free
memory, governors) before every job. Only whitelisted environment variables are recorded, so no secret
from the board's environment ends up in results.
"""

from __future__ import annotations

import glob
import os
import platform
import socket
import sys
from typing import Any, Dict, List, Optional

from .samplers.base import read_text, under
from .samplers.memory import meminfo_bytes

#: environment variables that change performance; nothing else is recorded
ENV_WHITELIST = ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS",
                 "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_NUM_THREADS", "MKL_ENABLE_INSTRUCTIONS",
                 "NUMEXPR_NUM_THREADS", "ORT_NUM_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                 "CUDA_VISIBLE_DEVICES", "LD_PRELOAD", "MALLOC_ARENA_MAX", "PYTHONHASHSEED")
LIBRARIES = ("numpy", "onnxruntime", "onnxruntime-gpu", "onnx", "psutil", "threadpoolctl", "scipy",
             "rknn-toolkit-lite2", "ai-edge-litert", "pytest-benchmark")


def library_versions() -> Dict[str, Optional[str]]:
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return {}
    out: Dict[str, Optional[str]] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _os_release(root: str) -> Optional[str]:
    text = read_text(under(root, "/etc/os-release")) or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def _cpu_model(root: str) -> Optional[str]:
    text = read_text(under(root, "/proc/cpuinfo")) or ""
    for line in text.splitlines():
        key = line.split(":", 1)[0].strip().lower()
        if key in ("model name", "hardware", "cpu model") and ":" in line:
            return line.split(":", 1)[1].strip()
    model = read_text(under(root, "/proc/device-tree/model"))
    return model.strip("\x00\n ") if model else None


def governors(root: str = "/") -> Dict[str, str]:
    out: Dict[str, str] = {}
    base = under(root, "/sys/devices/system/cpu/cpufreq")
    for pol in sorted(glob.glob(os.path.join(base, "policy*"))):
        gov = read_text(os.path.join(pol, "scaling_governor"))
        if gov:
            out[os.path.basename(pol)] = gov.strip()
    return out


def cpu_flags(root: str = "/") -> List[str]:
    text = read_text(under(root, "/proc/cpuinfo")) or ""
    for line in text.splitlines():
        if line.startswith(("flags", "Features")) and ":" in line:
            keep = ("avx", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "f16c", "amx_int8",
                    "asimd", "asimddp", "fphp", "asimdhp", "sve", "i8mm", "bf16")
            return sorted(f for f in line.split(":", 1)[1].split() if f in keep)
    return []


def board_snapshot(root: str = "/") -> Dict[str, Any]:
    try:
        cpus_allowed: Optional[int] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus_allowed = None
    return {
        "hostname": socket.gethostname(),
        "os": _os_release(root) or platform.platform(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "cpu_model": _cpu_model(root),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": cpus_allowed,
        "cpu_flags": cpu_flags(root),
        "governors": governors(root),
        "mem_total_bytes": meminfo_bytes(root)["total"],
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "libraries": library_versions(),
        "env": {k: os.environ[k] for k in ENV_WHITELIST if k in os.environ},
    }


def job_snapshot(root: str = "/") -> Dict[str, Any]:
    return {"governors": governors(root), "mem": meminfo_bytes(root), "loadavg": _loadavg(root)}


def _loadavg(root: str) -> Optional[List[float]]:
    text = read_text(under(root, "/proc/loadavg"))
    try:
        return [float(x) for x in (text or "").split()[:3]] or None
    except ValueError:
        return None
