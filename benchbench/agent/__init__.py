"""The on-board agent.

Runs on the board with the board's own Python (3.8+). The core is stdlib-only; numpy, onnxruntime and
psutil are imported lazily inside the backends and samplers that need them. Nothing here imports host
code; the host imports only :mod:`benchbench.agent.protocol` from this package.
"""
