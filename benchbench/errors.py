"""The one exception tree of benchbench.

::

    BenchbenchError
    ├── ConfigError(file, key)          bad suite / fleet / profile / CLI input   → exit 2
    ├── TransportError                  reaching a board
    │   ├── ConnectError                refused, unreachable, timed out, auth failed
    │   │   └── BoardBusy               another controller holds the board's lab lease
    │   ├── HostKeyError                unknown or changed host key
    │   ├── CommandFailed(exit_code, stderr_tail)
    │   ├── CommandTimeout
    │   └── TransferError               put/get failed (partial file removed)
    ├── DeployError                     agent or artifact could not be installed
    ├── AgentError                      agent protocol violation / version skew
    ├── WorkloadError                   a workload could not be built or validated
    ├── StoreError                      results database unusable
    └── RegressionDetected              a --fail-on gate tripped                  → exit 3

Only ``benchbench.cli`` turns these into messages and exit codes.
"""

from __future__ import annotations


class BenchbenchError(Exception):
    """Base of every error benchbench raises on purpose."""

    #: a short, actionable hint the CLI prints after the message
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(BenchbenchError):
    """Invalid user input; names the file and the key path when known."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        self.file = file
        self.key = key
        where = ":".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class TransportError(BenchbenchError):
    """Base for failures talking to a board."""


class ConnectError(TransportError):
    pass


class BoardBusy(ConnectError):
    """Another controller holds the board's lease (lab queue on PostgreSQL); the message is the skip
    reason, ``busy: <controller> since <time>``."""


class HostKeyError(TransportError):
    pass


class CommandFailed(TransportError):
    def __init__(self, message: str, *, exit_code: int, stderr_tail: str = "") -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        super().__init__(message)


class CommandTimeout(TransportError):
    pass


class TransferError(TransportError):
    pass


class DeployError(BenchbenchError):
    pass


class AgentError(BenchbenchError):
    pass


class WorkloadError(BenchbenchError):
    pass


class StoreError(BenchbenchError):
    pass


class RegressionDetected(BenchbenchError):
    pass
