"""Agent command line (stdlib argparse): ``run``, ``worker``, ``probe``, ``detect``, ``version``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .protocol import AGENT_VERSION, DEFAULT_FAMILIES, SCHEMA_VERSION, ProtocolError


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="benchbench-agent")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a request; append results as JSON lines")
    r.add_argument("--request", required=True)
    r.add_argument("--results", required=True)
    r.add_argument("--artifacts", required=True)
    r.add_argument("--quiet", action="store_true", help="do not echo result lines on stdout")
    w = sub.add_parser("worker", help="(internal) run one job in this process")
    w.add_argument("--job", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--artifacts", required=True)
    w.add_argument("--ctl-in", type=int, help="fd of the coordinator's command pipe (JSON lines)")
    w.add_argument("--ctl-out", type=int, help="fd of the event pipe back to the coordinator")
    w.add_argument("--energy-window-s", type=float, default=0.0,
                   help="steady-state energy loop (no coordinator)")
    p = sub.add_parser("probe", help="print the board snapshot and sensors as JSON")
    p.add_argument("--root", default="/")
    p.add_argument("--families", default=",".join(DEFAULT_FAMILIES))
    p.add_argument("--no-detect", action="store_true",
                   help="leave out detected_profile (the caller ran detect already)")
    d = sub.add_parser("detect", help="print which device profile fits this board, and why, as JSON")
    d.add_argument("--root", default="/")
    sub.add_parser("version", help="print agent and protocol versions as JSON")
    args = ap.parse_args(argv)
    if args.cmd == "version":
        print(json.dumps({"agent_version": AGENT_VERSION, "schema_version": SCHEMA_VERSION}))
        return 0
    if args.cmd == "worker":
        from .worker import main as worker_main
        return worker_main(args.job, args.out, args.artifacts, args.ctl_in, args.ctl_out,
                           args.energy_window_s)
    if args.cmd == "detect":
        from .detect import detect
        print(json.dumps(detect(args.root)))
        return 0
    if args.cmd == "probe":
        from . import envinfo
        from .detect import detect
        from .samplers import cadence, probe_all
        plans, missing = probe_all([f for f in args.families.split(",") if f], args.root)
        timing_probe = cadence.measure(plans)
        snap = envinfo.board_snapshot(args.root)
        snap["agent_version"] = AGENT_VERSION
        snap["sensor_timing_probe"] = timing_probe
        if not args.no_detect:  # npu-smi / nvidia-smi may each take seconds
            snap["detected_profile"] = detect(args.root)
        snap["sensors"] = [dict(c.to_dict(), family=pl.family, available=True) for pl in plans
                           for c in pl.channels] + [dict(u.to_dict(), available=False) for u in missing]
        print(json.dumps(snap, default=str))
        return 0
    from .runner import main as run_main
    try:
        return run_main(args.request, args.results, args.artifacts, echo=not args.quiet)
    except ProtocolError as exc:
        sys.stderr.write(f"benchbench-agent: protocol error: {exc}\n")
        return 3


if __name__ == "__main__":
    sys.exit(main())
