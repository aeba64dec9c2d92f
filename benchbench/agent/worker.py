"""One job in one fresh, long-lived process: prepare the workload, warm up and calibrate, then run timed
rounds when the coordinator says so, then the steady-state energy loop, then report memory. Writes a JSON
result.

A fresh process per job keeps VmHWM meaningful and stops one runtime's thread pool from spinning into the
next job's timings. The coordinator (``interleave``) steers the worker over a pipe pair of JSON lines —
``round``, ``energy``, ``run_self``, ``finish`` in; ``ready``, ``round``, ``energy``, ``done`` out — so
the rounds of several variants can be interleaved while each keeps its own process.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict
from typing import IO, Any, Dict, Optional

from . import contention, memory
from .backends import Prepared, Unsupported, WorkloadFailed, prepare
from .protocol import JobSpec
from .timing import TimedLoop, steady_loop

ENDED = {"event": "ended", "status": "failed"}
STEADY_WINDOW = "the timed call only, back to back (as in the timed rounds), no timer reads inside"


class JobSession:
    """The states of one job in its worker: ``start`` → (``run_round``)* → ``energy`` → ``finish``."""

    def __init__(self, job: JobSpec, artifacts_dir: str) -> None:
        self.job = job
        self.artifacts_dir = artifacts_dir
        self.res: Dict[str, Any] = {"job_key": job.job_key, "status": "ok", "reason": None}
        self.prepared: Optional[Prepared] = None
        self.loop: Optional[TimedLoop] = None
        self.can_reset = False
        self.setup_status: Dict[str, int] = {}
        self.rounds_evidence: list = []  # type: ignore[type-arg]
        self.finished = False

    @property
    def failed(self) -> bool:
        return bool(self.res["status"] != "ok")

    @property
    def self_timed(self) -> bool:
        return self.prepared is not None and self.prepared.run_self is not None

    def start(self) -> bool:
        """Prepare, warm up and calibrate. False when the job ended here (unsupported or failed)."""
        t0 = time.monotonic_ns()
        try:
            self.prepared = prepare(self.job, self.artifacts_dir)
        except Unsupported as exc:
            self.res.update(status="unsupported", reason=str(exc))
            return False
        except WorkloadFailed as exc:
            self.res.update(status="failed", reason=str(exc))
            return False
        p = self.prepared
        self.setup_status = memory.status_bytes()
        self.res.update(implementation=p.implementation, timed_window=p.timed_window, extra=p.extra,
                        setup_s=(time.monotonic_ns() - t0) / 1e9)
        if p.run_self is not None:
            return True
        self.can_reset = memory.reset_peak()
        self.loop = TimedLoop(p.fn, self.job.timing)
        return self._guard(self.loop.prepare)

    def _guard(self, step: Any, *args: Any) -> bool:
        try:
            step(*args)
            return True
        except Exception as exc:  # noqa: BLE001  job boundary: a crashing workload becomes a failed record with its traceback
            self.res.update(status="failed", reason=f"workload raised {type(exc).__name__}: {exc}",
                            stderr_tail=traceback.format_exc()[-2000:])
            return False

    def run_round(self) -> Optional[Dict[str, int]]:
        assert self.loop is not None
        before = contention.snapshot()
        out: Dict[str, int] = {}

        def step() -> None:
            assert self.loop is not None
            rnd = self.loop.run_round()
            out.update(t_start_ns=rnd.t_start_ns, t_end_ns=rnd.t_end_ns)
        if not self._guard(step):
            return None
        self.rounds_evidence.append(contention.between(before, contention.snapshot()))
        settle_threads()
        return out

    def energy(self, window_s: float) -> Optional[Dict[str, Any]]:
        """The steady-state energy phase: the timed call in a loop for ``window_s``, calls counted."""
        assert self.prepared is not None
        out: Dict[str, Any] = {}

        def step() -> None:
            assert self.prepared is not None and self.loop is not None
            t0, t1, calls = steady_loop(self.prepared.fn, window_s)
            out.update(t_start_ns=t0, t_end_ns=t1, calls=calls, window_s=window_s, holds=STEADY_WINDOW)
        if not self._guard(step):
            return None
        self.res["energy_phase"] = out
        return out

    def run_self(self, energy_window_s: float) -> bool:
        """A backend with its own timer (pytest-benchmark in a child process): its timing, memory, extra."""
        assert self.prepared is not None and self.prepared.run_self is not None
        before = contention.snapshot()
        try:
            timing, mem, extra = self.prepared.run_self(energy_window_s)
        except WorkloadFailed as exc:
            self.res.update(status="failed", reason=str(exc))
            return False
        self.rounds_evidence.append(contention.between(before, contention.snapshot()))
        self.res["timing"] = asdict(timing)
        self.res["memory"] = mem
        phase = extra.pop("energy_phase", None)
        if phase:
            self.res["energy_phase"] = phase
        window = extra.pop("timed_window", None)
        if window:  # known only after the run (llama-bench: at which depth tg ran)
            self.res["timed_window"] = window
        self.res["extra"] = dict(self.res.get("extra") or {}, **extra)
        return True

    def finish(self) -> Dict[str, Any]:
        if self.finished:
            return self.res
        self.finished = True
        p = self.prepared
        try:
            if self.rounds_evidence:
                self.res["contention"] = contention.judge(self.rounds_evidence)
            if self.failed or p is None or self.loop is None:
                return self.res
            after = memory.status_bytes()
            timing = self.loop.result()
            self.res["timing"] = asdict(timing)
            oh = timing.loop_overhead
            if oh.get("subtracted"):
                self.res["timed_window"] = (
                    "{}; minus the timing loop's own cost ({:.1f} ns per call, an empty callable in the same "
                    "loop with the same number, measured at job start; raw values kept)"
                    .format(self.res.get("timed_window") or "unspecified", oh["per_call_s"] * 1e9))
            peak_timed = after.get("VmHWM") if self.can_reset else None
            self.res["memory"] = {
                "method": "VmHWM from /proc/self/status in a fresh worker process"
                          + ("; reset via clear_refs before timing" if self.can_reset else ""),
                "rss_after_setup_bytes": self.setup_status.get("VmRSS"),
                "peak_rss_setup_bytes": self.setup_status.get("VmHWM"),
                "peak_rss_timed_bytes": peak_timed,
                "peak_rss_bytes": max(v for v in (self.setup_status.get("VmHWM"), after.get("VmHWM"), 0)
                                      if v is not None) or None,
            }
            if p.after_timing is not None:
                self.res["extra"] = dict(self.res.get("extra") or {}, **p.after_timing())
            return self.res
        finally:
            if p is not None and p.teardown:
                p.teardown()


def run_job(job: JobSpec, artifacts_dir: str, energy_window_s: float = 0.0) -> Dict[str, Any]:
    """All steps in one go (no coordinator): what a single, non-interleaved job does."""
    s = JobSession(job, artifacts_dir)
    if s.start():
        if s.self_timed:
            s.run_self(energy_window_s)
        else:
            for _ in range(job.timing.rounds):
                if s.run_round() is None:
                    break
            if energy_window_s > 0 and not s.failed:
                s.energy(energy_window_s)
    return s.finish()


def _send(out: IO[str], msg: Dict[str, Any]) -> None:
    out.write(json.dumps(msg) + "\n")
    out.flush()


def serve(job: JobSpec, artifacts_dir: str, cmd_in: IO[str], ev_out: IO[str]) -> Dict[str, Any]:
    """Follow the coordinator's commands; the result is returned once ``finish`` arrives (or the job ends)."""
    s = JobSession(job, artifacts_dir)
    ok = s.start()
    settle_threads()  # warm-up and calibration leave the runtime's pool spinning: quiet it before the next
    _send(ev_out, {"event": "ready" if ok else "ended", "self_timed": s.self_timed,
                   "rounds": job.timing.rounds, "status": s.res["status"]})
    if not ok:
        return s.finish()
    for line in cmd_in:
        cmd = json.loads(line)
        what = cmd.get("cmd")
        if what == "round":
            ev = s.run_round()
            _send(ev_out, dict(ev, event="round") if ev is not None else ENDED)
        elif what == "energy":
            ev2 = s.energy(float(cmd["window_s"]))
            settle_threads()
            _send(ev_out, dict(ev2, event="energy") if ev2 is not None else ENDED)
        elif what == "run_self":
            done = s.run_self(float(cmd.get("energy_window_s") or 0.0))
            _send(ev_out, {"event": "self_timed" if done else "ended", "status": s.res["status"]})
        else:  # "finish" (or anything unknown): wrap up
            break
        if s.failed:
            break
    return s.finish()


def main(job_path: str, out_path: str, artifacts_dir: str, ctl_in: Optional[int] = None,
         ctl_out: Optional[int] = None, energy_window_s: float = 0.0) -> int:
    with open(job_path) as fh:
        job = JobSpec.from_dict(json.load(fh))
    if ctl_in is not None and ctl_out is not None:
        with os.fdopen(ctl_in, "r") as cmd_in, os.fdopen(ctl_out, "w") as ev_out:
            res = serve(job, artifacts_dir, cmd_in, ev_out)
            _write(out_path, res)
            _send(ev_out, {"event": "done", "status": res["status"]})
        return 0
    _write(out_path, run_job(job, artifacts_dir, energy_window_s))
    return 0


def _write(out_path: str, res: Dict[str, Any]) -> None:
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(res, fh, default=str)
    os.replace(tmp, out_path)


def settle_threads(quiet_s: float = 0.005, max_s: float = 0.25) -> float:
    """Wait until this process stops using the CPU: a runtime's thread pool spins for a while after its last
    call (onnxruntime: ~40 ms at 100 % of a core), which would steal the CPU from the next variant's round.
    Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_s:
        c0 = time.process_time()  # every thread of this process
        time.sleep(quiet_s)
        if time.process_time() - c0 < 0.2 * quiet_s:  # under a fifth of a core: the pool is asleep
            break
    return time.monotonic() - t0
