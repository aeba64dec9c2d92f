"""Emulated device lab for the test suite (see shared/reference/emulated-lab.md)."""
