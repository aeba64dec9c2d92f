"""benchbench: hardware benchmarking and profiling for edge AI boards."""

__version__ = "0.1.0"
