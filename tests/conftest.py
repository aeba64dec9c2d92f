"""Shared fixtures. Keep this file to imports: fixtures live in tests/<area> modules."""

from lab.fixtures import fresh_board, lab_boards, net_lab, ssh_connect, ssh_lab  # noqa: F401
from lab.markers import pytest_collection_modifyitems  # noqa: F401
from lab.postgres import postgres_url  # noqa: F401
