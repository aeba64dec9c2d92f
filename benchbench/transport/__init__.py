"""How the controller reaches a board: a tiny interface with real implementations (local, SSH)."""

from .base import CommandResult, Transport

__all__ = ["CommandResult", "Transport"]
