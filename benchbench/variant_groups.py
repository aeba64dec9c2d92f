"""Which jobs of one board are variants of one model, to be measured interleaved (issue #9 item 6).

Jobs that share workload, backend and parameters and differ only in precision or pruning form a group; the
agent gives each member its own worker process and runs their timed rounds round-robin, so a change of
background load hits all of them alike and round i of one can be paired with round i of another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from .agent.protocol import JobSpec
from .results.keys import params_key

#: per-variant params (artifact names) that must not split a model's group (as in ``analysis.matrix``)
VARIANT_PARAMS = ("decode_artifact", "inputs_npz")
#: backends that time themselves in a child process: nothing to interleave
SELF_TIMED = ("pytest-benchmark",)


def variant_key(spec: JobSpec) -> str:
    params = {k: v for k, v in spec.params.items() if k not in VARIANT_PARAMS}
    return params_key({"workload": spec.workload, "backend": spec.backend, **params})


def assign_groups(specs: Sequence[JobSpec]) -> list[JobSpec]:
    """The specs with ``group`` set where two or more variants of one model share a board's job list."""
    members: dict[str, list[JobSpec]] = {}
    for s in specs:
        if s.backend not in SELF_TIMED:
            members.setdefault(variant_key(s), []).append(s)
    out = []
    for s in specs:
        same = members.get(variant_key(s), []) if s.backend not in SELF_TIMED else []
        if len({(m.precision, m.pruning) for m in same}) < 2:
            out.append(s)
            continue
        name = f"{s.workload}-{hashlib.sha256(variant_key(s).encode()).hexdigest()[:10]}"
        out.append(replace(s, group=name))
    return out
