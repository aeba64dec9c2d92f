"""Configuration: suites (what to run), fleets (where) and device profiles (how each board is read)."""
