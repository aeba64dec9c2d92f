#!/bin/sh
# Create rknn-toolkit2's isolated virtual environment for benchbench's RKNN conversions.
#
# rknn-toolkit2 pins torch<=2.4, onnx<=1.18 and numpy<=1.26, so it cannot share benchbench's environment.
# Usage: scripts/setup-rknn-venv.sh [VENV_DIR]   (default: ~/.cache/benchbench/rknn-venv)
# Then:  export BENCHBENCH_RKNN_PYTHON=VENV_DIR/bin/python
# Needs a CPython the toolkit ships wheels for (3.8-3.12; set PYTHON=python3.11 to pick one).
# Measured on x86_64 Linux: about 6 minutes and 5.6 GB (pip pulls CUDA torch 2.4.0 as a dependency).
set -eu

venv="${1:-${HOME}/.cache/benchbench/rknn-venv}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install rknn-toolkit2
"$venv/bin/python" -c "from rknn.api import RKNN; import importlib.metadata as m; print('rknn-toolkit2', m.version('rknn-toolkit2'))"
echo "export BENCHBENCH_RKNN_PYTHON=$venv/bin/python"
