"""The agent's run loop: snapshot the board, probe sensors, measure sampling overhead, then run each job
in a fresh worker process while the sampling session records sensors. Every finished job is appended to
the results file (flushed and fsynced) and echoed on stdout, so a dropped link loses nothing measured.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO, Any, Dict, List, Optional

from . import envinfo
from .protocol import AGENT_VERSION, JobSpec, RunRequest, TimingPlan, make_line
from . import throttle
from .detect import detect
from .samplers import Plan, Unavailable, cadence, family_environment, probe_all
from .samplers.rpi import read_throttled
from .samplers.session import SamplingSession, energy_report, idle_baseline


class Stop(Exception):
    """SIGTERM/SIGINT received: finish the results file and exit."""


class ResultsWriter:
    def __init__(self, path: str, echo: Optional[IO[str]]) -> None:
        self._fh = open(path, "a")
        self._echo = echo

    def write(self, kind: str, payload: Dict[str, Any]) -> None:
        line = make_line(kind, payload)
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
        self._child: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
        self.plans: List[Plan] = []
        self.missing: List[Unavailable] = []
        # issue #4: idle baseline and cool-down before each job (only when a power/temperature channel exists)
        self.idle_baseline_s = 1.0
        self.cooldown_margin_c = 3.0
        self.cooldown_timeout_s = 60.0
        self._idle_temp_c: Dict[str, float] = {}

    def _worker(self, job: JobSpec) -> Dict[str, Any]:
        jpath = os.path.join(self.tmp, "job.json")
        opath = os.path.join(self.tmp, "result.json")
        if os.path.exists(opath):
            os.remove(opath)
        with open(jpath, "w") as fh:
            json.dump(job.to_dict(), fh)
        cmd = _self_command() + ["worker", "--job", jpath, "--out", opath, "--artifacts", self.artifacts_dir]
        self._child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = self._child.communicate(timeout=job.timeout_s)
        except subprocess.TimeoutExpired:
            self._child.kill()
            _, err = self._child.communicate()
            return {"job_key": job.job_key, "status": "timeout",
                    "reason": "job exceeded its timeout of %.0f s; worker killed" % job.timeout_s,
                    "stderr_tail": err.decode(errors="replace")[-2000:]}
        finally:
            code = self._child.returncode
            self._child = None
        if code != 0 or not os.path.exists(opath):
            return {"job_key": job.job_key, "status": "failed",
                    "reason": "worker exited with status %s" % code,
                    "stderr_tail": err.decode(errors="replace")[-2000:]}
        with open(opath) as fh:
            res: Dict[str, Any] = json.load(fh)
        if err:
            res.setdefault("stderr_tail", err.decode(errors="replace")[-2000:])
        return res

    def kill_child(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()

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

    def run_measured(self, job: JobSpec, sampling: bool = True, prepare: bool = True) -> Dict[str, Any]:
        pre = self._prepare() if sampling and prepare else {}  # issue #4
        is_pi = sampling and any(p.family == "rpi" for p in self.plans)
        pi_before = read_throttled() if is_pi else None
        before = envinfo.job_snapshot(self.req.sampling.root)
        before["family"] = family_environment(self.req.sampling.families, self.req.sampling.root)
        session = SamplingSession(self.plans if sampling else [], self.req.sampling.interval_s).start()
        t0 = time.monotonic_ns()
        wall0 = time.time()
        try:
            res = self._worker(job)
        finally:
            session.stop()
        t1 = time.monotonic_ns()
        res["started_at_unix"] = wall0
        res["duration_s"] = (t1 - t0) / 1e9
        pi_after = read_throttled() if is_pi else None
        after = envinfo.job_snapshot(self.req.sampling.root)
        after["family"] = family_environment(self.req.sampling.families, self.req.sampling.root)
        res["env"] = {"before": before, "after": after}
        mem = res.setdefault("memory", {})
        mem["sys_available_before_bytes"] = before["mem"]["available"]
        mem["sys_available_after_bytes"] = after["mem"]["available"]
        windows = [(r["t_start_ns"], r["t_end_ns"]) for r in res.get("timing", {}).get("rounds", [])]
        summary = session.summary(windows, span=(t0, t1))
        summary["interval_s"] = self.req.sampling.interval_s
        summary["unavailable"] = [u.to_dict() for u in self.missing]
        summary["series"] = {"t0_ns": t0, "t_ns": [t - t0 for t in session.t_ns],
                             "values": session.values}
        res["sensors"] = summary
        # issue #4: energy per job/inference (above idle too) and the throttling verdict
        timing = res.get("timing", {})
        n_inf = (timing.get("number") or 0) * sum(len(r["values_s"]) for r in timing.get("rounds", []))
        idle_w = pre.get("idle", {}).get("power_w")
        res["energy"] = energy_report(session, windows, n_inf or None, idle_w)
        res["throttle"] = throttle.verdict(session.channels, session.t_ns, session.values, windows,
                                           pi_before, pi_after)
        if pre:
            res["preparation"] = pre
        return res

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
            self.out.write("board", {"board": self.req.board, "run_id": self.req.run_id, "snapshot": snap})
            if self.req.sampling.measure_overhead and self.req.jobs:
                self.out.write("overhead", {"overhead": self.measure_overhead()})
            for job in self.req.jobs:
                res = self.run_measured(job)
                self.out.write("job", {"result": res, "spec": job.to_dict()})
        except (Stop, KeyboardInterrupt):
            self.kill_child()
            status = "interrupted"
        finally:
            self.out.write("end", {"status": status})
            self.out.close()
            shutil.rmtree(self.tmp, ignore_errors=True)  # the workers' scratch files: nothing outlives a run
        return status


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
        fh.write("%d %d\n" % (os.getpid(), os.getpgid(0)))
    try:
        status = Agent(req, results_path, artifacts_dir, sys.stdout if echo else None).run()
    finally:
        try:
            os.remove(pid_path)
        except OSError:
            pass
    return 0 if status == "complete" else 130
