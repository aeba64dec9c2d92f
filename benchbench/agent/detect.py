"""Which device profile fits this board, and why (stdlib; the filesystem root is a parameter).

Evidence, strongest first: the device tree (``/proc/device-tree`` or its sysfs home
``/sys/firmware/devicetree/base``: ``model`` and the NUL-separated ``compatible`` list) and the L4T release
file for Jetson modules, Raspberry Pi 5 and RK3588 boards; ``npu-smi info`` for Ascend; NVML (when
``pynvml`` is installed) or ``nvidia-smi`` for an NVIDIA discrete GPU; else ``generic-linux``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from .samplers.base import read_text, under
from .samplers.cmd import have, run_argv

GENERIC = "generic-linux"
_DT_DIRS = ("/proc/device-tree", "/sys/firmware/devicetree/base")
#: Jetson module board ids in the device-tree ``compatible`` (``nvidia,p3768-0000+p3767-0005[-super]``:
#: carrier+module) → profile. p3767 SKUs 0000/0001 are Orin NX 16/8 GB, 0003-0005 Orin Nano.
_JETSON_IDS: Tuple[Tuple[str, str], ...] = (
    (r"[,+]p3767-000[01]\b", "jetson-orin-nx"), (r"[,+]p3767-000[345]\b", "jetson-orin-nano"),
    (r"[,+]p3701-\d{4}", "jetson-agx-orin"),
    (r"[,+]p3448-\d{4}|[,+]p3450-\d{4}|nvidia,jetson-nano", "jetson-nano"))
_JETSON_MODELS = (("agx orin", "jetson-agx-orin"), ("orin nx", "jetson-orin-nx"),
                  ("orin nano", "jetson-orin-nano"), ("jetson nano", "jetson-nano"))


def _dt(root: str, name: str) -> Optional[str]:
    for d in _DT_DIRS:
        text = read_text(under(root, f"{d}/{name}"))
        if text is not None:
            return text
    return None


def _compatible(root: str) -> List[str]:
    raw = _dt(root, "compatible") or ""
    return [c.strip() for c in raw.split("\x00") if c.strip()]


def _found(profile: str, reason: str, **evidence: Any) -> Dict[str, Any]:
    return {"profile": profile, "reason": reason, "evidence": {k: v for k, v in evidence.items() if v}}


def _jetson(root: str, model: str, compat: List[str]) -> Optional[Dict[str, Any]]:
    release = (read_text(under(root, "/etc/nv_tegra_release")) or "").strip()
    tegra = [c for c in compat if c.startswith("nvidia,")]
    if not release and not tegra and "jetson" not in model.lower():
        return None
    l4t = re.match(r"#\s*(R\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", release)
    ev = {"nv_tegra_release": release.splitlines()[0] if release else None, "model": model or None,
          "compatible": tegra or None, "l4t": "{}.{}".format(*l4t.groups()) if l4t else None}
    joined = " ".join(compat)
    for pattern, prof in _JETSON_IDS:
        m = re.search(pattern, joined)
        if m:
            return _found(prof, f"Jetson: device-tree board id {m.group(0)}", **ev)
    for needle, prof in _JETSON_MODELS:
        if needle in model.lower():
            return _found(prof, f"Jetson: device-tree model {model!r}", **ev)
    what = model or ev["nv_tegra_release"] or "device tree"
    return _found(GENERIC, f"a Jetson ({what}) whose module is not recognised: no profile for it, "
                           "generic sensors only", **ev)


def _npu(which: Callable[[str], bool]) -> Optional[Dict[str, Any]]:
    if not which("npu-smi"):
        return None
    from .samplers.ascend import parse_info
    chips = parse_info(run_argv(["npu-smi", "info"], timeout_s=10.0) or "")["chips"]
    names = sorted({str(c.get("name")) for c in chips})
    if any("310B" in n.upper() for n in names):
        return _found("ascend-310b", "Ascend: npu-smi lists {}".format(", ".join(names)), npu_chips=names)
    if any("910" in n for n in names):
        return _found("ascend-910b", "Ascend: npu-smi lists {}".format(", ".join(names)), npu_chips=names)
    listed = ", ".join(names) or "no NPU"
    return _found(GENERIC, f"npu-smi is present but lists {listed}: no profile for it", npu_chips=names)


def _nvidia(which: Callable[[str], bool]) -> Optional[Dict[str, Any]]:
    try:
        import pynvml  # optional (nvidia-ml-py); the agent core stays stdlib-only
    except ImportError:
        pynvml = None
    if pynvml is not None:
        try:
            pynvml.nvmlInit()
            try:
                names = [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                         for i in range(pynvml.nvmlDeviceGetCount())]
            finally:
                pynvml.nvmlShutdown()
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
            if names:
                return _found("nvidia-gpu", "NVML lists {}".format(", ".join(names)), gpus=names)
        except pynvml.NVMLError:
            pass
    if which("nvidia-smi"):
        out = run_argv(["nvidia-smi", "--query-gpu=name", "--format=csv"], timeout_s=10.0) or ""
        names = [ln.strip() for ln in out.splitlines()[1:] if ln.strip()]
        if names:
            return _found("nvidia-gpu", "nvidia-smi lists {}".format(", ".join(names)), gpus=names)
    return None


def detect(root: str = "/", which: Callable[[str], bool] = have) -> Dict[str, Any]:
    """``{"profile": name, "reason": why, "evidence": {...}}`` for the board under ``root``; ``which``
    says whether a vendor tool is on PATH."""
    model = (_dt(root, "model") or "").strip("\x00\n ")
    compat = _compatible(root)
    found = _jetson(root, model, compat)
    if found:
        return found
    if model.startswith("Raspberry Pi 5") or "raspberrypi,5-model-b" in compat:
        return _found("pi5", f"device-tree model {model!r}", model=model, compatible=compat)
    rk = [c for c in compat if re.match(r"rockchip,rk3588s?$", c)]
    if rk:
        return _found("rk3588", f"device-tree compatible {rk[0]}", model=model, compatible=compat)
    found = _npu(which) or _nvidia(which)
    if found:
        return found
    why = "no Jetson, Raspberry Pi 5 or RK3588 device tree, no npu-smi, no NVIDIA GPU (NVML/nvidia-smi)"
    return _found(GENERIC, why, model=model or None)
