"""A fleet board's profile: ``--profile`` wins without the fleet file's being loaded; without it, a profile
the fleet file names wrongly is an error naming the fleet file's key (no board is contacted either way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchbench.errors import ConfigError
from benchbench.pipeline.targets import fleet_targets

FLEET = """\
known_hosts: ./known_hosts
boards:
  - {name: b1, host: 192.0.2.1, profile: warp9}
"""


def test_profile_override_skips_a_broken_board_profile(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET)
    with pytest.raises(ConfigError) as exc:
        fleet_targets(tmp_path / "fleet.yaml", None, tmp_path / "cache", ssh_config=None)
    assert exc.value.file == str(tmp_path / "fleet.yaml") and exc.value.key == "boards[0].profile"
    b1, = fleet_targets(tmp_path / "fleet.yaml", None, tmp_path / "cache", ssh_config=None,
                        override="generic-linux")
    assert b1.profile_facts is not None
    assert (b1.profile_facts["profile"], b1.profile_facts["profile_reason"]) == ("generic-linux",
                                                                                "--profile generic-linux")
