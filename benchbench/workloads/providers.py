"""The board profile's ONNX Runtime provider preference, applied to the jobs sent to that board.

The preference rides in the job's ``params["providers"]`` (what the agent's ORT backends read); the job
key and the planned job (hence the stored params) stay as the suite made them, so one job compares
across boards. A suite entry that sets ``providers`` itself wins over the board's preference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..agent.protocol import JobSpec

#: agent backends that read ``params["providers"]``
ORT_BACKENDS = ("onnxruntime", "onnxruntime-llm")


def with_board_providers(spec: JobSpec, providers: Sequence[str] | None) -> JobSpec:
    """``spec`` with the board's provider preference, unless it does not apply or the suite chose."""
    if not providers or spec.backend not in ORT_BACKENDS or spec.params.get("providers"):
        return spec
    return dataclasses.replace(spec, params={**spec.params, "providers": list(providers)})
