"""Fleet files for lab boards, as the e2e tests that run through ``--fleet`` write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def lab_fleet(tmp_path: Path, ssh_lab: Any, boards: list[Any]) -> Path:
    """``fleet.yaml`` under ``tmp_path``: the lab's known_hosts and ``boards`` (the lab's key, each board's
    own work dir, tagged ``lab``), with an empty ``ssh_config`` beside it for ``--ssh-config``."""
    rows = "".join(f"  - {{name: {b.name}, host: {b.addr}, port: {b.port}, user: {b.user}, "
                   f"identity_file: {ssh_lab.client_key}, work_dir: {b.work_dir}, tags: [lab]}}\n"
                   for b in boards)
    path = tmp_path / "fleet.yaml"
    path.write_text(f"known_hosts: {ssh_lab.known_hosts}\nboards:\n{rows}")
    (tmp_path / "ssh_config").write_text("")
    return path
