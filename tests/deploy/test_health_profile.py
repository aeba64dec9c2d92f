"""``fleet check`` on this machine (LocalTransport): the profile comes from ONE ``agent detect`` and
``choose_profile`` — the probe does not detect again — and a configured profile the board does not look
like is kept, with a warning."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchbench.config.fleet import BoardSpec
from benchbench.config.profiles import families_for, load_profile
from benchbench.deploy.health import check_board
from benchbench.transport.base import CommandResult
from benchbench.transport.local import LocalTransport


class Recording(LocalTransport):
    """The agent subcommands run, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def run(self, argv: Sequence[str], **kw: Any) -> CommandResult:
        if len(argv) > 2 and argv[1].endswith(".pyz"):
            self.calls.append(list(argv[2:]))
        return super().run(argv, **kw)


def _check(tmp_path: Path, profile: str | None) -> tuple[Any, list[list[str]]]:
    t = Recording()
    board = BoardSpec(name="here", host="localhost", python=sys.executable, work_dir=str(tmp_path / "work"),
                      profile=profile)
    return check_board(board, t, tmp_path / "cache"), t.calls


def test_detected_once_and_chosen(tmp_path: Path) -> None:
    h, calls = _check(tmp_path, None)
    assert [c[0] for c in calls] == ["detect", "probe"] and "--no-detect" in calls[1]
    det = h.detected_profile
    assert det and h.profile == det["profile"] and h.profile_reason == f"detected: {det['reason']}"
    assert h.warnings == []
    families = families_for(load_profile(det["profile"]))
    assert calls[1][calls[1].index("--families") + 1] == ",".join(families)


def test_configured_profile_kept_and_mismatch_warned(tmp_path: Path) -> None:
    h, calls = _check(tmp_path, "pi5")  # this machine is no Raspberry Pi 5
    assert [c[0] for c in calls] == ["detect", "probe"]
    assert calls[1][calls[1].index("--families") + 1] == ",".join(families_for(load_profile("pi5")))
    assert (h.profile, h.profile_reason) == ("pi5", "fleet file profile")
    det = h.detected_profile
    assert det and det["profile"] != "pi5"
    want = f"configured profile pi5 but the board looks like {det['profile']} ({det['reason']})"
    assert h.warnings == [want]
