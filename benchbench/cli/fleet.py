"""``benchbench fleet``: inspect the boards of a fleet inventory."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..config.fleet import BoardSpec, load_fleet, select_boards
from ..deploy.health import BoardHealth, check_board, unreachable
from ..transport.base import Transport
from ..transport.fleet import fan_out, ssh_opener
from ..transport.sshconfig import DEFAULT_SSH_CONFIG
from .common import EXIT_FAILED_JOBS, cache_dir, handle_errors, out, print_json, term_safe


@click.group()
def fleet() -> None:
    """Boards listed in a fleet inventory (YAML)."""


@fleet.command("check")
@click.option("--fleet", "fleet_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Fleet inventory YAML.")
@click.option("--boards", default=None, help="Comma-separated board names or tags (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per board.")
@click.option("--accept-new-host-keys", is_flag=True,
              help="Record host keys of boards not yet in known_hosts (changed keys are still refused).")
@click.option("--ssh-config", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_SSH_CONFIG,
              show_default=True, help="OpenSSH client config to honour.")
@handle_errors
def check(fleet_file: Path, boards: str | None, as_json: bool, accept_new_host_keys: bool,
          ssh_config: Path) -> None:
    """Check every board in parallel: reachable, Python, arch, free disk, runtimes, sensors, idle temp."""
    inventory = load_fleet(fleet_file)
    selected = select_boards(inventory, boards)
    agent_cache = cache_dir() / "agent"

    def task(board: BoardSpec, transport: Transport) -> BoardHealth:
        return check_board(board, transport, agent_cache)

    res = fan_out(selected, task, connect=ssh_opener(inventory, ssh_config=ssh_config,
                                                     accept_new_host_keys=accept_new_host_keys))
    by_name = {b.name: b for b in selected}
    healths = [r.value if r.value is not None else unreachable(by_name[r.board], r.error or RuntimeError())
               for r in res.results]
    if as_json:
        print_json([h.to_dict() for h in healths])
    else:
        table = Table("board", "healthy", "python", "arch", "free disk", "idle °C", "runtimes", "sensors",
                      "profile", "reasons")
        for h in healths:
            safe = [escape(term_safe(v))
                    for v in (h.name, h.python or "-", h.arch or "-", "; ".join(h.reasons))]
            table.add_row(safe[0], "[green]yes[/]" if h.healthy else "[red]no[/]", safe[1], safe[2],
                          f"{h.free_disk_bytes / 1e9:.1f} GB" if h.free_disk_bytes is not None else "-",
                          f"{h.idle_temp_c:.1f}" if h.idle_temp_c is not None else "-",
                          ", ".join(f"{k} {v}" for k, v in h.runtimes.items()) or "-",
                          str(len(h.sensors)),
                          escape(term_safe(f"{h.profile or '-'} ({h.profile_reason})" if h.profile_reason
                                           else h.profile or "-")),
                          "; ".join([safe[3]] + [escape(term_safe("warning: " + w))
                                                 for w in h.warnings]).strip("; "))
        out.print(table)
    if not all(h.healthy for h in healths):
        sys.exit(EXIT_FAILED_JOBS)
