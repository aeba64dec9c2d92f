"""Results coming in: agent lines (``lines``) and pytest-benchmark files (``pytest_json``) become stored job
records (``records``), with their metrics computed once, here, from the raw values they keep."""

from .records import failed_record, job_record

__all__ = ["failed_record", "job_record"]
