"""Reading a user-named text file strictly: bounded, UTF-8, one-line :class:`ConfigError` naming the file.

A leaf (it imports only ``errors``) so that config/ (suites, fleets, profiles), ingest/ and transport/
(ssh config, known_hosts) share one reader without transport depending on config/.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def read_text(path: Path, max_bytes: int) -> str:
    """The file as strictly decoded UTF-8, at most ``max_bytes``."""
    try:
        with path.open("rb") as fh:
            blob = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    if len(blob) > max_bytes:
        raise ConfigError(f"file is larger than {max_bytes // 1024} KiB; refusing to parse it",
                          file=str(path))
    return _decode_text(blob, str(path))


def _decode_text(blob: bytes, file: str) -> str:
    if b"\0" in blob:
        raise ConfigError("is a binary file, not text (contains NUL bytes)", file=file)
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte 0x{blob[exc.start]:02x} at offset {exc.start})",
                          file=file) from None
    return text.removeprefix("\ufeff")
