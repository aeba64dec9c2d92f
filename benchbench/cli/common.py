"""Shared CLI plumbing: error → exit code mapping, options, paths."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, TypeVar

import click
from rich.console import Console

from ..errors import BenchbenchError, ConfigError, RegressionDetected, StoreError

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_FAILED_JOBS = 1
EXIT_BAD_INPUT = 2
EXIT_REGRESSION = 3
EXIT_INTERRUPTED = 130

DEFAULT_DB = "benchbench.db"


def cache_dir() -> Path:
    env = os.environ.get("BENCHBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "benchbench"


def exit_code_for(exc: BenchbenchError) -> int:
    if isinstance(exc, RegressionDetected):
        return EXIT_REGRESSION
    if isinstance(exc, (ConfigError, StoreError)):
        return EXIT_BAD_INPUT
    return EXIT_FAILED_JOBS


def handle_errors(fn: F) -> F:
    """Map our exception tree to one line on stderr and an exit code; tracebacks only with --debug."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().obj and
                     click.get_current_context().find_root().obj.get("debug"))
        try:
            return fn(*args, **kwargs)
        except BenchbenchError as exc:
            if debug:
                traceback.print_exc()
            msg = str(exc).replace("\n", " ")
            sys.stderr.write(f"benchbench: error: {msg}\n")
            if exc.hint:
                sys.stderr.write(f"  hint: {exc.hint}\n")
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            sys.stderr.write("benchbench: interrupted\n")
            sys.exit(EXIT_INTERRUPTED)
    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def setup_logging(verbose: int, debug: bool) -> None:
    from rich.logging import RichHandler
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)])
