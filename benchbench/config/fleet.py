"""Fleet inventory: which boards exist and how to reach them (YAML, validated, errors name file:key).

::

    known_hosts: ./lab_known_hosts      # optional, relative to this file; default ~/.ssh/known_hosts
    boards:
      - name: pi5-01
        host: 10.0.0.12                 # or an alias from ~/.ssh/config
        port: 22                        # optional (else ~/.ssh/config, else 22)
        user: bench                     # optional
        identity_file: ~/.ssh/id_ed25519
        profile: pi5
        python: python3
        work_dir: ~/.cache/benchbench
        tags: [arm, pi]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from .loader import read_yaml, validate_as

DEFAULT_WORK_DIR = "~/.cache/benchbench"


def _no_control(value: str, what: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} must not contain control characters (newline, tab, ...)")
    return value


class BoardSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = Field(default=None, min_length=1)
    identity_file: str | None = None
    profile: str | None = None
    python: str = Field(default="python3", min_length=1)
    work_dir: str = Field(default=DEFAULT_WORK_DIR, min_length=1)
    tags: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # a label (messages, result rows, local file names): any text but no path separators
        if "/" in v or v in (".", ".."):
            raise ValueError("board name must not contain '/' or be '.'/'..'")
        return _no_control(v, "board name")

    @field_validator("host", "user", "python", "work_dir", "identity_file")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return None if v is None else _no_control(v, "value")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for tag in v:
            if not tag or "," in tag:
                raise ValueError(f"tag {tag!r} must be non-empty and contain no comma")
            _no_control(tag, "tag")
        return v


class FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known_hosts: str | None = None
    boards: tuple[BoardSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FleetFile:
        seen: set[str] = set()
        for b in self.boards:
            if b.name in seen:
                raise ValueError(f"board name {b.name!r} appears twice")
            seen.add(b.name)
        return self


class Fleet(BaseModel):
    """A loaded inventory; ``known_hosts`` is resolved to an absolute path."""

    model_config = ConfigDict(frozen=True)

    source: Path
    known_hosts: Path
    boards: tuple[BoardSpec, ...]

    def board(self, name: str) -> BoardSpec:
        for b in self.boards:
            if b.name == name:
                return b
        raise KeyError(name)


def load_fleet(path: Path) -> Fleet:
    raw = validate_as(FleetFile, read_yaml(path), str(path))
    if raw.known_hosts is None:
        known_hosts = Path(os.path.expanduser("~/.ssh/known_hosts"))
    else:
        known_hosts = Path(os.path.expanduser(raw.known_hosts))
        if not known_hosts.is_absolute():
            known_hosts = (path.parent / known_hosts).resolve()
    return Fleet(source=path, known_hosts=known_hosts, boards=raw.boards)


def select_boards(fleet: Fleet, selectors: Sequence[str] | str | None) -> list[BoardSpec]:
    """Boards whose name or one of whose tags is listed (``"pi5-01,arm"`` or a list); all when empty.
    Inventory order is kept; an unknown selector is an error rather than an empty run."""
    if isinstance(selectors, str):
        selectors = [s for s in selectors.split(",")]
    wanted = [s.strip() for s in selectors or () if s.strip()]
    if not wanted:
        return list(fleet.boards)
    known = {b.name for b in fleet.boards} | {t for b in fleet.boards for t in b.tags}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ConfigError(f"no board or tag named {', '.join(map(repr, unknown))} in {fleet.source}",
                          key="--boards", hint=f"known: {', '.join(sorted(known))}")
    return [b for b in fleet.boards if b.name in wanted or any(t in wanted for t in b.tags)]
