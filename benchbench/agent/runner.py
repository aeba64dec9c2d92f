"""The agent's run loop: snapshot the board, probe sensors, measure sampling overhead, then run each job
in a fresh worker process while the sampling session records sensors. Every finished job is appended to
the results file (flushed and fsynced) and echoed on stdout, so a dropped link loses nothing measured.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from typing import IO, Any, Dict, List, Optional, Set, Tuple

from . import envinfo, interleave, throttle
from .detect import detect
from .protocol import (
    AGENT_VERSION,
    BoardLine,
    EndLine,
    JobLine,
    JobResult,
    JobSpec,
    OverheadLine,
    ProtocolError,
    ResultLine,
    RunRequest,
    TimingPlan,
)
from .samplers import Plan, Unavailable, cadence, family_environment, probe_all
from .samplers.rpi import read_throttled
from .samplers.session import SamplingSession, energy_report, idle_baseline

#: the steady-state energy window lasts at least this long, and this many sensor update periods
MIN_ENERGY_WINDOW_S = 1.0
ENERGY_WINDOW_PERIODS = 20


class Stop(Exception):
    """SIGTERM/SIGINT received: finish the results file and exit."""


class ResultsWriter:
    def __init__(self, path: str, echo: Optional[IO[str]]) -> None:
        self._fh = open(path, "a")  # noqa: SIM115 - held for the whole run, closed by close()
        self._echo = echo

    def write(self, msg: ResultLine) -> None:
        line = msg.to_line()
        self._fh.write(line + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if self._echo is not None:
            try:
                self._echo.write(line + "\n")
                self._echo.flush()
            except OSError:  # the controller went away: keep measuring, the results file has it all
                self._echo = None

    def close(self) -> None:
        self._fh.close()


class Agent:
    def __init__(self, request: RunRequest, results_path: str, artifacts_dir: str, echo: Optional[IO[str]]):
        self.req = request
        self.artifacts_dir = artifacts_dir
        self.out = ResultsWriter(results_path, echo)
        self.tmp = tempfile.mkdtemp(prefix="bb-agent-")
        self._workers: List[interleave.Worker] = []
        self.plans: List[Plan] = []
        self.missing: List[Unavailable] = []
        # issue #4: idle baseline and cool-down before each job (only when a power/temperature channel exists)
        self.idle_baseline_s = 1.0
        self.cooldown_margin_c = 3.0
        self.cooldown_timeout_s = 60.0
        self._idle_temp_c: Dict[str, float] = {}

    def kill_child(self) -> None:
        for w in self._workers:
            w.kill()

    def _prepare(self) -> Dict[str, Any]:
        """Issue #4: cool down to the run's idle temperature, then an idle power baseline."""
        out: Dict[str, Any] = {}
        chans = [c for p in self.plans for c in p.channels]
        if self._idle_temp_c:
            out["cooldown"] = throttle.cool_down(self.plans, self._idle_temp_c, self.cooldown_margin_c,
                                                 self.cooldown_timeout_s)
        if any(c.quantity in ("power", "energy") for c in chans) and self.idle_baseline_s > 0:
            out["idle"] = idle_baseline(self.plans, self.idle_baseline_s, self.req.sampling.interval_s)
            if not self._idle_temp_c:
                self._idle_temp_c = dict(out["idle"]["temp_c"])
        return out

    def energy_window_s(self) -> float:
        """Steady-state energy window: >= max(1 s, 20 x the slowest power channel's update period), 0 without
        a power/energy channel. The measured ``update_period_s`` is used when the probe has it."""
        periods = [getattr(c, "update_period_s", None) or self.req.sampling.interval_s
                   for p in self.plans for c in p.channels if c.quantity in ("power", "energy")]
        return max(MIN_ENERGY_WINDOW_S, ENERGY_WINDOW_PERIODS * max(periods)) if periods else 0.0

    def run_measured(self, job: JobSpec, sampling: bool = True, prepare: bool = True) -> Dict[str, Any]:
        return self.run_group([job], sampling, prepare)[0]

    def run_group(self, jobs: List[JobSpec], sampling: bool = True,
                  prepare: bool = True) -> List[Dict[str, Any]]:
        """Measure jobs interleaved (a group of one is a plain job): see ``interleave``."""
        pre = self._prepare() if sampling and prepare else {}  # issue #4
        is_pi = sampling and any(p.family == "rpi" for p in self.plans)
        pi_before = read_throttled() if is_pi else None
        before = envinfo.job_snapshot(self.req.sampling.root)
        before["family"] = family_environment(self.req.sampling.families, self.req.sampling.root)
        session = SamplingSession(self.plans if sampling else [], self.req.sampling.interval_s).start()
        window_s = self.energy_window_s() if sampling else 0.0
        cap = min(j.timing.max_live_workers for j in jobs)
        try:
            cmd = _self_command() + ["worker", "--artifacts", self.artifacts_dir]
            workers = interleave.measure(jobs, cmd, self.tmp, window_s, cap, self._workers)
            results = [w.result for w in workers]
        finally:
            self.kill_child()
            self._workers = []
            session.stop()
        pi_after = read_throttled() if is_pi else None
        after = envinfo.job_snapshot(self.req.sampling.root)
        after["family"] = family_environment(self.req.sampling.families, self.req.sampling.root)
        idle_w = pre.get("idle", {}).get("power_w")
        for w, res in zip(workers, results):
            res["started_at_unix"] = w.started_unix
            res["duration_s"] = (w.t1_ns - w.t0_ns) / 1e9
            res["env"] = {"before": before, "after": after}
            mem = res.setdefault("memory", {})
            mem["sys_available_before_bytes"] = before["mem"]["available"]
            mem["sys_available_after_bytes"] = after["mem"]["available"]
            if len(workers) > 1 or w.job.group:
                res["interleave"] = w.info
            windows = [(r["t_start_ns"], r["t_end_ns"]) for r in res.get("timing", {}).get("rounds", [])]
            summary = session.summary(windows, span=(w.t0_ns, w.t1_ns))
            summary["interval_s"] = self.req.sampling.interval_s
            summary["unavailable"] = [u.to_dict() for u in self.missing]
            summary["series"] = {"t0_ns": w.t0_ns, "t_ns": [t - w.t0_ns for t in session.t_ns
                                                             if w.t0_ns <= t <= w.t1_ns],
                                 "values": [[v for t, v in zip(session.t_ns, vals) if w.t0_ns <= t <= w.t1_ns]
                                            for vals in session.values]}
            res["sensors"] = summary
            res["energy"] = _energy(session, res, windows, idle_w)
            res["throttle"] = throttle.verdict(session.channels, session.t_ns, session.values, windows,
                                               pi_before, pi_after)
            if pre:
                res["preparation"] = pre
        return results

    def measure_overhead(self) -> Dict[str, Any]:
        """Latency of a fixed busy loop with and without the sampler running, ABBA-interleaved."""
        probe = JobSpec(job_key="overhead-probe", workload="busy", backend="python", precision="fp64",
                        params={"n": 20000}, timing=TimingPlan(warmup_s=0.05, min_value_s=0.005, rounds=3,
                                                               values_per_round=7, max_timed_s=2.0))
        medians: Dict[bool, List[float]] = {True: [], False: []}
        for sampling in (False, True, True, False):
            res = self.run_measured(probe, sampling=sampling, prepare=False)
            vals = sorted(v for r in res.get("timing", {}).get("rounds", []) for v in r["values_s"])
            if vals:
                medians[sampling].append(vals[len(vals) // 2])
        with_s = sum(medians[True]) / len(medians[True]) if medians[True] else None
        without_s = sum(medians[False]) / len(medians[False]) if medians[False] else None
        pct = (with_s / without_s - 1) * 100 if with_s and without_s else None
        return {"latency_with_sampling_s": with_s, "latency_without_sampling_s": without_s,
                "overhead_pct": pct, "probe": "python busy loop n=20000 (ABBA, median of 21 values each)",
                "interval_s": self.req.sampling.interval_s,
                "channels": len([c for p in self.plans for c in p.channels])}

    def run(self) -> str:
        status = "complete"
        try:
            self.plans, self.missing = probe_all(self.req.sampling.families, self.req.sampling.root)
            timing_probe = cadence.measure(self.plans)  # issue #10: update period + read cost per channel
            snap = envinfo.board_snapshot(self.req.sampling.root)
            snap["agent_version"] = AGENT_VERSION
            snap["sensor_timing_probe"] = timing_probe
            snap["detected_profile"] = detect(self.req.sampling.root)
            snap["sensors"] = [dict(c.to_dict(), family=p.family, available=True)
                               for p in self.plans for c in p.channels]
            snap["sensors"] += [dict(u.to_dict(), available=False) for u in self.missing]
            self.out.write(BoardLine(board=self.req.board, run_id=self.req.run_id, snapshot=snap))
            if self.req.sampling.measure_overhead and self.req.jobs:
                self.out.write(OverheadLine(overhead=self.measure_overhead()))
            done: Set[str] = set()
            for job in self.req.jobs:
                if job.job_key in done:
                    continue
                members = [j for j in self.req.jobs if job.group and j.group == job.group] or [job]
                for spec, res in zip(members, self.run_group(members)):
                    done.add(spec.job_key)
                    self.out.write(JobLine(result=_typed(spec, res), spec=spec))
        except (Stop, KeyboardInterrupt):
            self.kill_child()
            status = "interrupted"
        finally:
            self.out.write(EndLine(status=status))
            self.out.close()
            shutil.rmtree(self.tmp, ignore_errors=True)  # the workers' scratch files: nothing outlives a run
        return status


def _energy(session: SamplingSession, res: Dict[str, Any], windows: List[Tuple[int, int]],
            idle_w: Optional[Dict[str, float]]) -> List[Dict[str, Any]]:
    """Energy per inference from the steady-state phase (its window only); without that phase (a failed
    loop, no sensor) over the timed rounds as before."""
    phase = res.get("energy_phase")
    if phase and phase.get("calls"):
        reps = energy_report(session, [(phase["t_start_ns"], phase["t_end_ns"])], phase["calls"], idle_w)
        for rep in reps:
            holds = phase.get("holds", "the timed call in a loop")
            span_s = (phase["t_end_ns"] - phase["t_start_ns"]) / 1e9
            rep["window"] = f"steady-state energy phase: {holds}; {phase['calls']:d} calls in {span_s:.2f} s"
        return reps
    timing = res.get("timing", {})
    n_inf = (timing.get("number") or 0) * sum(len(r["values_s"]) for r in timing.get("rounds", []))
    return energy_report(session, windows, n_inf or None, idle_w)


def _typed(spec: JobSpec, res: Dict[str, Any]) -> JobResult:
    """The result as the protocol types it; one that does not fit (an agent bug) still ends as a failed job
    with the reason, so the jobs after it are measured and stored."""
    try:
        return JobResult.from_dict(res, "job result")
    except ProtocolError as exc:
        reason = f"agent wrote an invalid result: {exc}"
        return JobResult(job_key=spec.job_key, status="failed", reason=reason)


def _self_command() -> List[str]:
    """How to start this agent again: the zipapp when deployed, ``-m package`` when run from source."""
    if sys.argv and sys.argv[0].endswith(".pyz"):
        return [sys.executable, sys.argv[0]]
    return [sys.executable, "-m", __name__.rsplit(".", 1)[0]]


def _on_term(signum: int, frame: Any) -> None:
    raise Stop()


def main(request_path: str, results_path: str, artifacts_dir: str, echo: bool = True) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    with open(request_path) as fh:
        req = RunRequest.from_json(fh.read())
    # a controller that resumes this run after losing us finds (and stops) us through this file
    pid_path = os.path.join(os.path.dirname(os.path.abspath(results_path)), "agent.pid")
    with open(pid_path, "w") as fh:
        fh.write(f"{os.getpid():d} {os.getpgid(0):d}\n")
    try:
        status = Agent(req, results_path, artifacts_dir, sys.stdout if echo else None).run()
    finally:
        try:
            os.remove(pid_path)
        except OSError:
            pass
    return 0 if status == "complete" else 130
