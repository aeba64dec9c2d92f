"""Coordinator side of the worker protocol: the variants of one model (jobs sharing a ``group``) each get a
long-lived worker process (so VmHWM stays per variant) that prepares, warms up and calibrates alone; then
the timed rounds run round-robin — round 1 of A, round 1 of B, round 2 of A, … — so a load change hits
every variant alike and round i of A can be paired with round i of B. Then each worker runs its
steady-state energy loop in turn while the sensors are sampled. A job without a group is a group of one.

Commands and events are JSON lines over a private pipe pair (never the worker's stdout, where a runtime may
print); a worker that exceeds its own time budget (time spent waiting on it, not on its partners) is killed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from typing import Any, Dict, List, Optional

from .protocol import JobSpec


class WorkerGone(Exception):
    """The worker closed its pipe, exited or ran past its time budget."""


class Worker:
    def __init__(self, job: JobSpec, cmd: List[str], job_path: str, out_path: str) -> None:
        self.job = job
        self.out_path = out_path
        self.used_s = 0.0  # time spent waiting on this worker only
        self.status: Optional[str] = None  # None while it can still take commands
        self.reason: Optional[str] = None
        self.events: List[Dict[str, Any]] = []
        self.self_timed = False
        self.rounds_done = 0
        self._buf = b""
        cmd_r, cmd_w = os.pipe()
        ev_r, ev_w = os.pipe()
        self.started_unix = time.time()
        self.t0_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(
            cmd + ["--job", job_path, "--out", out_path, "--ctl-in", str(cmd_r), "--ctl-out", str(ev_w)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(cmd_r, ev_w))
        os.close(cmd_r)
        os.close(ev_w)
        self._cmd = os.fdopen(cmd_w, "w")
        self._ev = ev_r
        self.t1_ns = self.t0_ns

    @property
    def active(self) -> bool:
        return self.status is None

    def send(self, msg: Dict[str, Any]) -> None:
        try:
            self._cmd.write(json.dumps(msg) + "\n")
            self._cmd.flush()
        except OSError:
            raise WorkerGone("worker pipe closed") from None

    def recv(self) -> Dict[str, Any]:
        """The next event, within what is left of this job's time budget."""
        t0 = time.monotonic()
        try:
            while b"\n" not in self._buf:
                left = self.job.timeout_s - self.used_s - (time.monotonic() - t0)
                if left <= 0:
                    raise WorkerGone("timeout")
                ready, _, _ = select.select([self._ev], [], [], left)
                if not ready:
                    raise WorkerGone("timeout")
                chunk = os.read(self._ev, 65536)
                if not chunk:
                    raise WorkerGone("exited")
                self._buf += chunk
        finally:
            self.used_s += time.monotonic() - t0
        line, self._buf = self._buf.split(b"\n", 1)
        ev: Dict[str, Any] = json.loads(line.decode())
        return ev

    def ask(self, msg: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Send a command and wait for its event; None (and the worker is done) when it ended instead."""
        if not self.active:
            return None
        try:
            self.send(msg)
            ev = self.recv()
        except WorkerGone as exc:
            self._gone(str(exc))
            return None
        if ev.get("event") == "ended":
            self.status = "ended"
            return None
        return ev

    def _gone(self, why: str) -> None:
        if why == "timeout":
            self.status = "timeout"
            self.reason = "job exceeded its timeout of %.0f s; worker killed" % self.job.timeout_s
        else:
            self.status = "failed"
            self.reason = "worker %s unexpectedly" % why
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> Dict[str, Any]:
        """Tell an active worker to finish, then read its result file (or say why there is none)."""
        if self.status in (None, "ended"):
            try:
                if self.status is None:  # an ended worker is already finishing by itself
                    self.send({"cmd": "finish"})
                while self.recv().get("event") != "done":
                    pass
            except WorkerGone as exc:
                self._gone(str(exc))
        try:
            self._cmd.close()
        except OSError:
            pass
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        os.close(self._ev)
        self.t1_ns = time.monotonic_ns()
        tail = err.decode(errors="replace")[-2000:]
        if self.status in ("timeout", "failed") or not os.path.exists(self.out_path):
            status = "timeout" if self.status == "timeout" else "failed"
            return {"job_key": self.job.job_key, "status": status,
                    "reason": self.reason or "worker exited with status %s" % self.proc.returncode,
                    "stderr_tail": tail}
        with open(self.out_path) as fh:
            res: Dict[str, Any] = json.load(fh)
        if tail:
            res.setdefault("stderr_tail", tail)
        return res


def start_workers(jobs: List[JobSpec], cmd: List[str], tmp: str) -> List[Worker]:
    """One worker per job, started one after another so each warms up and calibrates alone."""
    workers: List[Worker] = []
    for i, job in enumerate(jobs):
        jpath = os.path.join(tmp, "job-%d.json" % i)
        opath = os.path.join(tmp, "result-%d.json" % i)
        for p in (opath, opath + ".tmp"):
            if os.path.exists(p):
                os.remove(p)
        with open(jpath, "w") as fh:
            json.dump(job.to_dict(), fh)
        w = Worker(job, cmd, jpath, opath)
        workers.append(w)
        try:
            ev = w.recv()
        except WorkerGone as exc:
            w._gone(str(exc))
            continue
        if ev.get("event") != "ready":
            w.status = "ended"
        w.self_timed = bool(ev.get("self_timed"))
    return workers


def run_rounds(workers: List[Worker]) -> None:
    """Round-robin: round i of every active variant before round i+1 of any."""
    i = 0
    while True:
        todo = [w for w in workers if w.active and not w.self_timed and w.rounds_done < w.job.timing.rounds]
        if not todo:
            return
        for w in todo:
            ev = w.ask({"cmd": "round", "i": i})
            if ev is not None:
                w.rounds_done += 1
        i += 1


def energy_phase(workers: List[Worker], window_s: float) -> None:
    """Self-timed workers run their benchmark (and their own energy loop); the others their energy loop."""
    for w in workers:
        if w.self_timed:
            w.ask({"cmd": "run_self", "energy_window_s": window_s})
        elif window_s > 0:
            w.ask({"cmd": "energy", "window_s": window_s})


def interleave_info(workers: List[Worker], pos: int) -> Dict[str, Any]:
    w = workers[pos]
    return {"group": w.job.group, "position": pos, "rounds": w.rounds_done,
            "partners": [o.job.job_key for o in workers if o is not w],
            "scheme": "round-robin: round i of every variant (own worker process each) before round i+1"
                      if len(workers) > 1 else "alone"}
