#!/usr/bin/env bash
# The on-demand benchmarks (tests/perf, marker perf): minutes each, JSON under perf-results/. Not part of the
# test command (`python -m pytest -q`, README / .ci/run): they measure, they do not gate.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p perf-results
exec python -m pytest tests/perf -m perf --benchmark-json=perf-results/bench.json "$@"
