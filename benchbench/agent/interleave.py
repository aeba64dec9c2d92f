"""Coordinator side of the worker protocol: the variants of one model (jobs sharing a ``group``) each get a
long-lived worker process (so VmHWM stays per variant) that prepares, warms up and calibrates alone; then
the timed rounds run round-robin — round 1 of A, round 1 of B, round 2 of A, … — so a load change hits
every variant alike and round i of A can be paired with round i of B. Then each worker runs its
steady-state energy loop in turn while the sensors are sampled. A job without a group is a group of one.

A group larger than ``TimingPlan.max_live_workers`` runs in chunks so that no more workers than that are alive
at once (memory on a Pi 5 or a Jetson Nano). The group's reference (dense fp32, else its first job) — and the
other dense variants where they fit (``chunk_plan``) — are anchors: each keeps ONE worker across all chunks
and runs its rounds round-robin inside each chunk; its result stores which of its rounds belong to which
chunk (``chunk_rounds``), so ``analysis.paired`` pairs every variant with the anchor rounds measured in that
variant's own chunk. One record with per-chunk rounds is simpler and more honest than re-measuring the
reference per chunk as extra records: one worker, one calibration, one VmHWM, one row in every table, and
no job keys the controller never planned. A pair split across chunks was not interleaved: no claim.

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
        self.budget_s = job.timeout_s  # a reference kept across chunks gets one budget per chunk
        self.result: Dict[str, Any] = {}
        self.info: Dict[str, Any] = {}  # interleave facts for the result (group, partners, chunk)
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
                left = self.budget_s - self.used_s - (time.monotonic() - t0)
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
            self.reason = f"job exceeded its timeout of {self.job.timeout_s:.0f} s; worker killed"
        else:
            self.status = "failed"
            self.reason = f"worker {why} unexpectedly"
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
                    "reason": self.reason or f"worker exited with status {self.proc.returncode}",
                    "stderr_tail": tail}
        with open(self.out_path) as fh:
            res: Dict[str, Any] = json.load(fh)
        if tail:
            res.setdefault("stderr_tail", tail)
        return res


def start_workers(jobs: List[JobSpec], cmd: List[str], tmp: str, tag: str = "",
                  started: Optional[List[Worker]] = None) -> List[Worker]:
    """One worker per job, started one after another so each warms up and calibrates alone. ``tag`` keeps
    the scratch files of workers alive at the same time apart; ``started`` collects every worker (to kill)."""
    workers: List[Worker] = []
    for i, job in enumerate(jobs):
        jpath = os.path.join(tmp, f"job{tag}-{i}.json")
        opath = os.path.join(tmp, f"result{tag}-{i}.json")
        for p in (opath, opath + ".tmp"):
            if os.path.exists(p):
                os.remove(p)
        with open(jpath, "w") as fh:
            json.dump(job.to_dict(), fh)
        w = Worker(job, cmd, jpath, opath)
        workers.append(w)
        if started is not None:
            started.append(w)
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
    """Round-robin: round i of every active variant before round i+1 of any; each worker runs its plan's
    number of rounds in this call (a reference kept across chunks runs them again in every chunk)."""
    target = {id(w): w.rounds_done + w.job.timing.rounds for w in workers}
    i = 0
    while True:
        todo = [w for w in workers if w.active and not w.self_timed and w.rounds_done < target[id(w)]]
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


SCHEME = "round-robin: round i of every variant (own worker process each) before round i+1"


def reference_index(jobs: List[JobSpec]) -> int:
    """The group's reference: the dense fp32 job (``analysis.matrix``'s baseline), else the first."""
    return next((i for i, j in enumerate(jobs) if j.precision == "fp32" and j.pruning == "none"), 0)


def chunk_plan(jobs: List[JobSpec], cap: int) -> List[List[int]]:
    """Job indices per chunk. Every chunk of a split group starts with the same anchors: the reference, plus
    every other dense variant when they all fit beside the largest pruning level (then "vs dense at the same
    precision" stays paired too). The other jobs are packed by pruning level, whole levels where they fit, so
    "vs fp32 at the same pruning" stays paired."""
    if len(jobs) <= cap:
        return [list(range(len(jobs)))]
    ref = reference_index(jobs)
    levels: Dict[str, List[int]] = {}
    for i, j in enumerate(jobs):
        if i != ref:
            levels.setdefault(j.pruning, []).append(i)
    dense = levels.get("none", []) if jobs[ref].pruning == "none" else []
    biggest = max((len(v) for k, v in levels.items() if k != "none"), default=0)
    anchors = [ref] + dense if 1 + len(dense) + biggest <= cap else [ref]
    room = cap - len(anchors)
    chunks: List[List[int]] = [[]]
    for level in levels.values():
        level = [i for i in level if i not in anchors]
        if chunks[-1] and len(chunks[-1]) + len(level) > room:
            chunks.append([])
        for i in level:  # a level larger than a chunk is split
            if len(chunks[-1]) == room:
                chunks.append([])
            chunks[-1].append(i)
    return [anchors + c for c in chunks if c]


def measure(jobs: List[JobSpec], cmd: List[str], tmp: str, window_s: float, cap: int,
            started: List[Worker]) -> List[Worker]:
    """Run a group (see the module docstring): the closed workers in job order, each with its ``result`` and
    ``info``. ``started`` collects every worker as it starts, so an interrupt can kill them."""
    plan = chunk_plan(jobs, cap)
    split = len(plan) > 1
    anchor_ix = [i for i in plan[0] if all(i in c for c in plan)] if split else []
    anchors = start_workers([jobs[i] for i in anchor_ix], cmd, tmp, "-anchor", started)
    for a in anchors:
        a.budget_s = a.job.timeout_s * len(plan)
    chunk_rounds: Dict[int, List[Dict[str, Any]]] = {id(a): [] for a in anchors}
    done: Dict[int, Worker] = {}
    for k, idx in enumerate(plan):
        others = [i for i in idx if i not in anchor_ix]
        ws = start_workers([jobs[i] for i in others], cmd, tmp, f"-c{k}", started)
        members = anchors + ws
        first = {id(a): a.rounds_done for a in anchors}
        run_rounds(members)
        energy_phase([w for w in members if w not in anchors or k == 0], window_s)
        for a in anchors:
            chunk_rounds[id(a)].append({"chunk": k, "first_round": first[id(a)],
                                        "rounds": a.rounds_done - first[id(a)],
                                        "partners": [o.job.job_key for o in members if o is not a]})
        for pos, (i, w) in enumerate(zip(others, ws)):
            w.result = w.close()
            w.info = {"group": w.job.group, "position": len(anchors) + pos, "rounds": w.rounds_done,
                      "partners": [o.job.job_key for o in members if o is not w],
                      "scheme": SCHEME if len(members) > 1 else "alone", "max_live_workers": cap}
            if split:
                w.info.update(chunk=k, chunks=len(plan))
            done[i] = w
    for pos, (i, a) in enumerate(zip(anchor_ix, anchors)):
        a.result = a.close()
        partners = [p for c in chunk_rounds[id(a)] for p in c["partners"]]
        a.info = {"group": a.job.group, "position": pos, "rounds": a.rounds_done, "anchor": True,
                  "reference": pos == 0, "partners": sorted(set(partners), key=partners.index),
                  "scheme": SCHEME, "max_live_workers": cap, "chunks": len(plan),
                  "chunk_rounds": chunk_rounds[id(a)]}
        done[i] = a
    return [done[i] for i in range(len(jobs))]
