"""``benchbench devices list`` / ``devices show NAME``: the device profiles (devices/*.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..config.profiles import DEFAULT_DEVICE_DIR, DeviceProfile, list_profiles, load_profile
from .common import handle_errors, out, print_json

_dirs_option = click.option("--dir", "dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
                            help="extra profile folder, searched before the built-in one (repeatable)")


def _search(dirs: tuple[Path, ...]) -> list[Path]:
    return [*dirs, DEFAULT_DEVICE_DIR]


def _headline(p: DeviceProfile) -> str:
    h = p.effective_headline()
    if h is None:
        return "unavailable: " + (p.power_unavailable_reason or "no source")
    return f"{h.channel} ({h.scope})"


@click.group()
def devices() -> None:
    """Device profiles: sensors, headline power and its scope, thermal limits, roofline peaks."""


@devices.command("list")
@_dirs_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@handle_errors
def list_cmd(dirs: tuple[Path, ...], as_json: bool) -> None:
    profiles = list_profiles(_search(dirs))
    if as_json:
        print_json([{"name": p.name, "description": p.description, "samplers": p.sampler_families(),
                     "headline_power": (h.model_dump() if (h := p.effective_headline()) else None),
                     "power_unavailable_reason": p.power_unavailable_reason} for p in profiles])
        return
    table = Table("name", "headline power (scope)", "samplers", "description")
    for p in profiles:
        table.add_row(p.name, _headline(p), ", ".join(p.sampler_families()), p.description)
    out.print(table)


@devices.command("show")
@click.argument("name")
@_dirs_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@handle_errors
def show_cmd(name: str, dirs: tuple[Path, ...], as_json: bool) -> None:
    p = load_profile(name, _search(dirs))
    data: dict[str, Any] = p.model_dump(mode="json")
    data["sampler_families"] = p.sampler_families()
    h = p.effective_headline()
    data["effective_headline_power"] = h.model_dump() if h else None
    if as_json:
        print_json(data)
        return
    out.print(f"[bold]{p.name}[/bold] — {p.description}")
    out.print(f"samplers: {', '.join(p.sampler_families())}")
    out.print(f"headline power: {_headline(p)}" + (f" — {h.label}" if h and h.label else ""))
    t = p.thermal
    out.print(f"thermal: throttle {t.throttle_c} °C, critical {t.critical_c} °C, cool down to idle + "
              f"{t.cooldown_margin_c} °C (timeout {t.cooldown_timeout_s:.0f} s)"
              + (f" [{t.source}]" if t.source else ""))
    for prec, peak in p.roofline.compute.items():
        out.print(f"peak {prec}: {peak.value:.4g} {peak.unit} ({peak.confidence}: {peak.source})")
    if p.roofline.bandwidth:
        b = p.roofline.bandwidth
        out.print(f"peak bandwidth: {b.value:.4g} {b.unit} ({b.confidence}: {b.source})")
    if p.roofline.notes:
        out.print(f"roofline: {p.roofline.notes}")
    tun = p.tuning
    hints = [f"{k}={v}" for k, v in (("governor", tun.governor), ("devfreq_governor", tun.devfreq_governor),
                                     ("jetson_clocks", tun.jetson_clocks), ("nvpmodel", tun.nvpmodel_mode))
             if v is not None]
    if hints:
        out.print("tuning: " + ", ".join(hints))
    for note in tun.notes:
        out.print(f"  - {note}")
    if p.meter:
        out.print(f"meter: {p.meter.family_spec()}")
