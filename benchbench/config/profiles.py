"""Device profiles (``devices/<name>.yaml``): which sensor families a board uses, what its headline
power number is (source and scope: "total power" means something different on every board), thermal
limits and cool-down, roofline peaks with their source, tuning hints, and an optional external meter.

Errors are :class:`benchbench.errors.ConfigError` naming the file and the key path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..agent.protocol import DEFAULT_FAMILIES, POWER_SCOPES, SAMPLER_FAMILIES
from ..errors import ConfigError
from .loader import read_yaml, validate_as

#: the repository's devices/ folder (the packaged copy is the lead's concern; callers pass dirs)
DEFAULT_DEVICE_DIR = Path(__file__).resolve().parents[1] / "devices"  # links to the repo devices/; packaged

Scope = Literal["wall", "board_input", "module_input", "rails_sum", "accelerator", "cpu_package", "gpu_board",
                "rail"]
assert set(Scope.__args__) == set(POWER_SCOPES)  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PowerSource(_Model):
    family: str
    channel: str = Field(min_length=1)
    scope: Scope
    label: str | None = None
    quantity: Literal["power", "energy"] = "power"


class MeterBinding(_Model):
    """An external analyzer behind SPEC PTDaemon (the MLPerf power setup)."""

    kind: Literal["ptdaemon"] = "ptdaemon"
    host: str = Field(min_length=1)
    port: int = Field(default=8888, ge=1, le=65535)
    channel: int | None = Field(default=None, ge=1, le=8)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if any(c in v for c in "@/ \t\n") or v.startswith("-"):
            raise ValueError("host must be a plain host name or address")
        return v

    def family_spec(self) -> str:
        """The sampler family string the agent probes: ``ptdaemon@host:port[/chN]``."""
        return f"ptdaemon@{self.host}:{self.port}" + ("" if self.channel is None else f"/ch{self.channel}")

    def channel_name(self) -> str:
        return "wall_power" if self.channel is None else f"wall_ch{self.channel}_power"


class PowerLimit(_Model):
    """The most a board can draw at the scopes it covers (its supply, a module budget, a card's limit):
    a power or energy figure above it beyond its uncertainty is physically implausible, not a result."""

    max_w: float = Field(gt=0)
    source: str = Field(min_length=1)
    #: scopes it bounds; empty: every scope measured on the board (a wall meter also sees supply losses)
    scopes: tuple[Scope, ...] = ()
    #: budgets bind an average: a peak may exceed them by this factor before it is implausible
    peak_factor: float = Field(default=1.0, ge=1.0)


class Thermal(_Model):
    throttle_c: float | None = Field(default=None, description="temperature where the SoC starts throttling")
    critical_c: float | None = None
    source: str | None = None
    cooldown_margin_c: float = Field(default=3.0, gt=0, description="cool down to idle + this before a job")
    cooldown_timeout_s: float = Field(default=120.0, gt=0)
    watch: tuple[str, ...] = Field(default=(), description="temperature channels that decide the cool-down")


class Peak(_Model):
    value: float = Field(gt=0)
    unit: Literal["FLOP/s", "OP/s", "B/s"]
    source: str = Field(min_length=1)
    confidence: Literal["vendor", "derived", "unverified"] = "unverified"


class Roofline(_Model):
    #: precision (fp32, fp16, int8, ...) → peak compute; keyed by engine when a board has several
    compute: dict[str, Peak] = Field(default_factory=dict)
    bandwidth: Peak | None = None
    notes: str | None = None


class Tuning(_Model):
    governor: str | None = None
    devfreq_governor: str | None = None
    jetson_clocks: bool | None = None
    nvpmodel_mode: str | None = None
    nvpmodel_id: int | None = None
    sudo_npu_load: bool = Field(default=False, description="read root-only NPU load through 'sudo -n'")
    notes: tuple[str, ...] = ()


PROFILE_NAME = r"^[a-z0-9][a-z0-9-]*$"


class DeviceProfile(_Model):
    name: str = Field(pattern=PROFILE_NAME)
    description: str
    samplers: tuple[str, ...] = Field(min_length=1)
    headline_power: PowerSource | None = None
    power_unavailable_reason: str | None = None
    thermal: Thermal = Thermal()
    roofline: Roofline = Roofline()
    tuning: Tuning = Tuning()
    meter: MeterBinding | None = None
    power_limits: tuple[PowerLimit, ...] = ()
    sampling_interval_s: float = Field(default=0.02, gt=0, le=10)
    #: CPU architecture (``platform.machine()`` spelling); picks e.g. the int8 flavour (S8S8 on ARM).
    #: None: any.
    arch: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$")
    #: ONNX Runtime execution providers in order of preference (the agent uses the available ones in this
    #: order and records a CPU fallback). None: the agent's default, CPU only.
    execution_providers: tuple[str, ...] | None = Field(default=None, min_length=1)

    @field_validator("samplers")
    @classmethod
    def _families(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for fam in v:
            if fam.partition("@")[0] not in SAMPLER_FAMILIES:
                known = ", ".join(sorted(SAMPLER_FAMILIES))
                raise ValueError(f"unknown sampler family {fam!r} (known: {known})")
        return v

    @field_validator("execution_providers")
    @classmethod
    def _providers(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for p in v or ():
            if not re.match(r"^[A-Za-z0-9]+ExecutionProvider$", p):
                raise ValueError(f"{p!r} is not an ONNX Runtime provider name (e.g. CUDAExecutionProvider)")
        if v is not None and len(set(v)) != len(v):
            raise ValueError("execution_providers lists a provider twice")
        return v

    @model_validator(mode="after")
    def _headline(self) -> DeviceProfile:
        names = [f.partition("@")[0] for f in self.samplers]
        if self.headline_power is not None and self.headline_power.family not in names:
            raise ValueError(f"headline_power.family {self.headline_power.family!r} is not among samplers")
        if self.headline_power is None and not self.power_unavailable_reason and self.meter is None:
            raise ValueError("no headline_power: say why in power_unavailable_reason")
        return self

    def sampler_families(self) -> list[str]:
        """Families for the agent's SamplingPlan, with options (sudo NPU load, bound meter) applied."""
        out = []
        for fam in self.samplers:
            if fam == "rk3588" and self.tuning.sudo_npu_load:
                fam = "rk3588@sudo"
            out.append(fam)
        if self.meter is not None:
            out.append(self.meter.family_spec())
        return out

    def effective_headline(self) -> PowerSource | None:
        """The number to report as "power": the bound wall meter when there is one, else the profile's."""
        if self.meter is not None:
            return PowerSource(family="ptdaemon", channel=self.meter.channel_name(), scope="wall",
                               label="external analyzer via PTDaemon (wall power)")
        return self.headline_power


def families_for(profile: DeviceProfile | None) -> list[str]:
    """The sensor families a board is sampled with, by ``run`` and ``fleet check`` alike: its profile's
    (options and bound meter applied), else the agent's one default list."""
    return profile.sampler_families() if profile is not None else list(DEFAULT_FAMILIES)


def snapshot_facts(profile: DeviceProfile, reason: str) -> dict[str, Any]:
    """What the report and the analysis need of the profile, carried in the board snapshot: a report reads
    the store only, so a profile edited (or missing) later does not change what an old run's report says."""
    return {"profile": profile.name, "profile_reason": reason,
            "power_limits": [lim.model_dump(mode="json") for lim in profile.power_limits],
            "roofline": profile.roofline.model_dump(mode="json", exclude={"notes"})}


def _is_path(name_or_path: str) -> bool:
    return name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path


def load_profile_file(path: Path) -> DeviceProfile:
    return validate_as(DeviceProfile, read_yaml(path), str(path))


def load_profile(name_or_path: str,
                 search_dirs: Sequence[Path | str] = (DEFAULT_DEVICE_DIR,)) -> DeviceProfile:
    """A profile by name (``pi5`` → first ``<dir>/pi5.yaml`` in ``search_dirs``) or by file path."""
    if _is_path(name_or_path):
        return load_profile_file(Path(name_or_path))
    for d in search_dirs:
        for ext in (".yaml", ".yml"):
            path = Path(d) / (name_or_path + ext)
            if path.is_file():
                prof = load_profile_file(path)
                if prof.name != name_or_path:
                    raise ConfigError(f"profile name {prof.name!r} does not match its file name",
                                      file=str(path), key="name")
                return prof
    known = ", ".join(p.name for p in list_profiles(search_dirs)) or "none"
    raise ConfigError(f"unknown device profile {name_or_path!r}", key="profile",
                      hint=f"known profiles: {known} (searched {', '.join(str(d) for d in search_dirs)})")


def list_profiles(search_dirs: Sequence[Path | str] = (DEFAULT_DEVICE_DIR,)) -> list[DeviceProfile]:
    """Every profile in ``search_dirs``; a name found in an earlier dir hides later ones. Only files
    named like a profile (``<name>.yaml``, name = lower-case letters, digits, dashes) are profiles, so
    other YAML kept alongside (``fleet.example.yaml``) is not mistaken for one."""
    seen: dict[str, DeviceProfile] = {}
    for d in search_dirs:
        base = Path(d)
        if not base.is_dir():
            continue
        for path in sorted(list(base.glob("*.yaml")) + list(base.glob("*.yml"))):
            if not re.match(PROFILE_NAME, path.stem):
                continue
            prof = load_profile_file(path)
            seen.setdefault(prof.name, prof)
    return sorted(seen.values(), key=lambda p: p.name)
