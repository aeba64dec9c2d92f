"""Results coming in: agent lines (``lines``, typed by ``agent.protocol``) and pytest-benchmark files
(``pytest_json``) become stored job records (``records``); ``metrics`` (with ``plausibility``) turns their raw
values into ``Metric`` records once, here, with the pure statistics of ``analysis``."""

from .records import failed_record, job_record

__all__ = ["failed_record", "job_record"]
