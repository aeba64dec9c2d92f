"""Resolve a board address the way ``ssh`` would: ~/.ssh/config (HostName, User, Port, IdentityFile,
ProxyJump) under explicit values from the fleet inventory, which win like ssh's command-line options."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from ..errors import ConfigError
from ..files import read_text

DEFAULT_SSH_CONFIG = Path(os.path.expanduser("~/.ssh/config"))
_MAX_HOPS = 8


@dataclass(frozen=True)
class Endpoint:
    alias: str  # what the user wrote
    hostname: str  # what we connect to (and look up in known_hosts)
    port: int
    user: str
    identity_files: tuple[str, ...]
    jumps: tuple[Endpoint, ...] = ()  # ProxyJump hops, first hop first


def _load(ssh_config: Path | None) -> paramiko.SSHConfig:
    """The config (none when the default file does not exist; the CLI refuses an explicit missing one)."""
    if ssh_config is None or not ssh_config.is_file():
        return paramiko.SSHConfig()
    text = read_text(ssh_config, 4 << 20)  # strict UTF-8: a binary file is an error, not a crash
    try:
        return paramiko.SSHConfig.from_text(text)
    except (paramiko.ConfigParseError, ValueError) as exc:
        raise ConfigError(f"not an OpenSSH client config: {str(exc)[:120]}", file=str(ssh_config)) from None


def check_ssh_config(ssh_config: Path | None) -> None:
    """Parse the config once up front, so a broken file stops the run before any board is touched."""
    _load(ssh_config)


def split_hop(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` / ``[user@][v6addr]:port`` / ``ssh://user@host:port`` → parts."""
    spec = spec.strip()
    spec = spec.removeprefix("ssh://")
    user, _, rest = spec.rpartition("@")
    port: int | None = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, _, p = rest.partition(":")
        port = int(p)
    else:
        host = rest
    return (user or None), host, port


def resolve(host: str, *, port: int | None = None, user: str | None = None,
            identity_file: str | None = None, ssh_config: Path | None = DEFAULT_SSH_CONFIG,
            _depth: int = 0) -> Endpoint:
    if _depth > _MAX_HOPS:
        raise ConfigError(f"ProxyJump chain for {host!r} is longer than {_MAX_HOPS} hops (a loop?)",
                          file=str(ssh_config), key="ProxyJump")
    cfg = _load(ssh_config).lookup(host)
    try:
        cfg_port = int(cfg["port"]) if "port" in cfg else None
    except ValueError as exc:
        raise ConfigError(f"bad Port for {host!r}: {cfg['port']!r}", file=str(ssh_config),
                          key="Port") from exc
    idents: tuple[str, ...]
    if identity_file:
        idents = (os.path.expanduser(identity_file),)
    else:
        idents = tuple(os.path.expanduser(p) for p in cfg.get("identityfile", []))
    jumps: list[Endpoint] = []
    jump_spec = str(cfg.get("proxyjump", "")).strip()
    if jump_spec and jump_spec.lower() != "none":
        for hop in jump_spec.split(","):
            try:
                h_user, h_host, h_port = split_hop(hop)
            except ValueError as exc:
                raise ConfigError(f"bad ProxyJump hop {hop!r}", file=str(ssh_config),
                                  key="ProxyJump") from exc
            # each hop is itself resolved through the config (its own HostName/User/ProxyJump)
            resolved = resolve(h_host, port=h_port, user=h_user, ssh_config=ssh_config, _depth=_depth + 1)
            jumps.extend(resolved.jumps)
            jumps.append(Endpoint(resolved.alias, resolved.hostname, resolved.port, resolved.user,
                                  resolved.identity_files))
    return Endpoint(alias=host, hostname=str(cfg.get("hostname", host)), port=port or cfg_port or 22,
                    user=user or str(cfg.get("user", "")) or getpass.getuser(), identity_files=idents,
                    jumps=tuple(jumps))
