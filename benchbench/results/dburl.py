"""Database URLs as they may be shown: the one place that renders a ``--db`` for people to read.

A URL can carry a password in its user-info (``postgresql://u:SECRET@h/db``) or in its query
(``?password=SECRET``, libpq's ``sslpassword``…). Everything benchbench prints, logs, stores or raises goes
through :func:`mask_url` (the URL itself) or :func:`redact` (any text that might quote it or its secrets).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote

MASK = "***"
_SECRET_KEYS = re.compile(r"(pass(word|wd)?|pwd|secret|token|sslpassword|api[_-]?key)$", re.IGNORECASE)
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@")


def to_url(db: str | Path) -> str:
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser()}"


def secrets_in(url: str) -> list[str]:
    """The password(s) a URL carries, raw and percent-decoded."""
    found: list[str] = []
    m = _USERINFO.match(url)
    if m and m.group("pw"):
        found.append(m.group("pw"))
    _, _, query = url.partition("?")
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if sep and value and _SECRET_KEYS.search(unquote(key)):
            found.append(value)
    try:
        found += [v for k, v in parse_qsl(query, keep_blank_values=False) if _SECRET_KEYS.search(k)]
    except ValueError:
        pass
    found += [unquote(s) for s in list(found)]
    return sorted({s for s in found if s}, key=len, reverse=True)


def mask_url(url: str) -> str:
    """The URL with every password replaced by ``***``; never raises, whatever the text."""
    out = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", url, count=1)
    base, sep, query = out.partition("?")
    if sep:
        parts = []
        for part in query.split("&"):
            key, eq, _value = part.partition("=")
            parts.append(f"{key}={MASK}" if eq and _SECRET_KEYS.search(unquote(key)) else part)
        out = base + "?" + "&".join(parts)
    return out


def redact(text: str, url: str) -> str:
    """``text`` with the URL masked and any of its secrets removed (driver errors may quote either)."""
    text = text.replace(url, mask_url(url))
    for secret in secrets_in(url):
        text = text.replace(secret, MASK)
    return text
