"""Fleet files for lab boards, as the e2e tests that run through ``--fleet`` write them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any


def lab_fleet(directory: Path, ssh_lab: Any, boards: Iterable[Any], *, work_dir: bool = True,
              tags: bool = True, extra: Callable[[Any], Mapping[str, str]] | None = None) -> Path:
    """``fleet.yaml`` under ``directory``: the lab's known_hosts and ``boards`` (the lab's key; each board's
    own work dir and the ``lab`` tag unless turned off; ``extra(board)``'s keys, values as YAML text, between
    the two), with an empty ``ssh_config`` beside it for ``--ssh-config``."""
    def row(b: Any) -> str:
        keys = {"name": b.name, "host": b.addr, "port": str(b.port), "user": b.user,
                "identity_file": str(ssh_lab.client_key)}
        if work_dir:
            keys["work_dir"] = str(b.work_dir)
        keys.update(extra(b) if extra else {})
        if tags:
            keys["tags"] = "[lab]"
        return "  - {" + ", ".join(f"{k}: {v}" for k, v in keys.items()) + "}\n"

    path = directory / "fleet.yaml"
    path.write_text(f"known_hosts: {ssh_lab.known_hosts}\nboards:\n{''.join(row(b) for b in boards)}")
    (directory / "ssh_config").write_text("")
    return path
