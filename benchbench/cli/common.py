"""Shared CLI plumbing: error → exit code mapping, options, paths."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

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
DB_HELP = "Results database: a path or SQLAlchemy URL."


def fmt_num(v: float | None) -> str:
    """A table cell: 4 significant digits, ``-`` when there is no value."""
    return "-" if v is None else f"{v:.4g}"


def cache_dir() -> Path:
    env = os.environ.get("BENCHBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "benchbench"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def term_safe(text: object, *, one_line: bool = True) -> str:
    """Text as it may reach a terminal: stored names can hold escape sequences (clear screen, set title,
    fake output), so every C0/C1 control and bidi override is shown as '?' (newlines become spaces)."""
    s = str(text)
    if one_line:
        s = s.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("?", s)


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
            sys.stderr.write(f"benchbench: error: {term_safe(exc).strip()}\n")
            if exc.hint:
                sys.stderr.write(f"  hint: {term_safe(exc.hint).strip()}\n")
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt as exc:
            if debug:
                traceback.print_exc()
            signum = getattr(exc, "signum", signal.SIGINT)
            sys.stderr.write(f"benchbench: interrupted ({signal.Signals(signum).name})\n")
            sys.exit(128 + signum)
    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def template_errors(template_dir: Path | None) -> Iterator[None]:
    """A broken override template (``--templates``) is bad input: one line naming the file and line."""
    import jinja2
    try:
        yield
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error: {exc.message}", file=exc.filename or exc.name,
                          key=f"line {exc.lineno}") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template error: {exc.message or exc}",
                          file=str(template_dir) if template_dir else None, key="--templates") from None


class OneLineErrors(click.Group):
    """Click's own usage errors (unknown option, bad --workers value, missing argument) as one
    ``benchbench: error:`` line with exit 2, like every other bad input, instead of a usage block."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            sys.stderr.write(f"benchbench: error: {term_safe(exc.format_message()).strip()}\n")
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            sys.stderr.write("benchbench: aborted\n")
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(0)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def setup_logging(verbose: int, debug: bool) -> None:
    from rich.logging import RichHandler
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)])
