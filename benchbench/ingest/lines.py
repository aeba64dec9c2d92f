"""One board's agent stdout (and its results file) → stored records, line by line."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from ..agent.protocol import BoardLine, EndLine, JobLine, OverheadLine, ProtocolError, ResultLine, parse_line
from ..errors import AgentError, BenchbenchError
from ..results.records import JobRecord
from ..results.store import Store
from ..workloads.plan import PlannedJob
from .records import job_record

log = logging.getLogger(__name__)


class RunSink(Protocol):
    """What a line handler needs of the run it feeds (``pipeline.Run``)."""

    store: Store
    run_id: str

    def events(self, kind: str, board: str, **data: Any) -> None: ...

    def store_record(self, rec: JobRecord, out: Any) -> None: ...


class LineHandler:
    """Called with every stdout line of a board's agent; ``out`` is the board's outcome (given back to
    ``run.store_record``). Lines from the results file (``from_file``) only add jobs the stream missed."""

    def __init__(self, run: RunSink, board: str, by_key: dict[str, PlannedJob], out: Any,
                 headline: str | None = None, facts: dict[str, Any] | None = None) -> None:
        self.run, self.board, self.by_key, self.out = run, board, by_key, out
        self.headline = headline
        #: the board's profile facts (its name included), added to the board snapshot
        self.facts: dict[str, Any] = facts or {}
        self.end_status: str | None = None
        self.lock = threading.Lock()
        #: errors met while handling lines; raised after the agent finishes (a callback that raised would
        #: stop draining the agent's stdout and could stall it)
        self.errors: list[BenchbenchError] = []

    def __call__(self, line: str, from_file: bool = False) -> None:
        if not line.startswith("{"):
            return
        try:
            msg = parse_line(line)
            if msg is not None:  # None: a kind of line a newer agent writes and this side does not know
                self._handle(msg, from_file)
        except ProtocolError as exc:
            self.errors.append(AgentError(f"{self.board}: {exc} (old agent on the board?)"))
        except BenchbenchError as exc:
            log.error("%s: %s", self.board, exc)
            self.errors.append(exc)

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]

    def _handle(self, msg: ResultLine, from_file: bool) -> None:
        with self.lock:
            if isinstance(msg, BoardLine) and not from_file:
                snapshot = {**msg.snapshot, **self.facts}
                self.run.store.record_board(self.run.run_id, self.board, snapshot, status="running")
                self.run.events("snapshot", self.board, snapshot=msg.snapshot)
            elif isinstance(msg, OverheadLine) and not from_file:
                self.run.store.record_board(self.run.run_id, self.board, overhead=msg.overhead)
            elif isinstance(msg, JobLine):
                rec = job_record(self.run.run_id, self.board, msg, self.by_key.get(msg.result.job_key),
                                 headline=self.headline, power_limits=self.facts.get("power_limits"))
                self.run.store_record(rec, self.out)
            elif isinstance(msg, EndLine):
                self.end_status = msg.status
                self.run.store.record_board(self.run.run_id, self.board, status=msg.status)
