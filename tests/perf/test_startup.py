"""Start-up and per-job overhead of the agent (issue #16.3): every job runs in a fresh worker process
(one per variant), so each job pays for an interpreter, the agent's own imports, the runtime's imports and
the session creation before its first timed iteration. Each part is timed in fresh processes with the
interpreter the agent uses (``sys.executable``, not a pyenv shim), median of ``N`` runs, side by side in
one run; the load average is recorded with them. Goal: ≤ 300 ms per job on 2 cores outside the job's own
model load (session creation is reported apart).

Run: ``pytest tests/perf/test_startup.py -m perf -s`` → perf-results/startup.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from benchbench.deploy.agent_build import build_agent

pytestmark = pytest.mark.perf
OUT = Path(os.environ.get("BENCHBENCH_PERF_OUT", "perf-results")) / "startup.json"
N = int(os.environ.get("BENCHBENCH_STARTUP_N", "7"))

#: what a quick-suite job's worker does before its first timed iteration, cumulatively (from the source
#: tree; the deployed zipapp's agent imports are added in the test)
STEPS = {
    "interpreter": "pass",
    "agent worker imports": "import benchbench.agent.worker",
    "+ numpy": "import benchbench.agent.worker, numpy",
    "+ onnxruntime": "import benchbench.agent.worker, numpy, onnxruntime",
}
SESSION = """
import time, numpy as np, onnx, onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [512, 512])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [512, 512])], [w])
data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()
t0 = time.perf_counter()
s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
x = np.zeros((512, 512), np.float32)
s.run(None, {"x": x})
print(time.perf_counter() - t0)
"""


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def _zipapps(tmp: Path) -> dict[str, Path]:
    """The agent as deployed (with bytecode), and the same archive with its sources only (as before)."""
    built = build_agent(tmp)
    bare = tmp / "sources-only.pyz"
    with zipfile.ZipFile(built.path) as src, zipfile.ZipFile(bare, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith(".pyc"):
                dst.writestr(info, src.read(info))
    return {"zipapp with bytecode": built.path, "zipapp sources only": bare}


def test_per_job_startup(tmp_path: Path) -> None:
    la0 = os.getloadavg()
    steps = dict(STEPS)
    for label, pyz in _zipapps(tmp_path).items():
        # what a deployed worker imports before its job: the agent from the zipapp (same modules as above)
        steps[f"agent worker imports ({label})"] = (f"import sys; sys.path.insert(0, {str(pyz)!r}); "
                                                    "import bbagent.worker")
    samples: dict[str, list[float]] = {k: [] for k in steps}
    session: list[float] = []
    for _ in range(N):  # interleaved, so load changes hit every step alike
        for k, code in steps.items():
            samples[k].append(_wall(code))
        out = subprocess.run([sys.executable, "-c", SESSION], check=True, capture_output=True, text=True)
        session.append(float(out.stdout.strip()))
    med = {k: statistics.median(v) for k, v in samples.items()}
    doc = {"cpus": len(os.sched_getaffinity(0)), "loadavg_before": la0, "loadavg_after": os.getloadavg(),
           "n": N, "python": sys.executable, "median_s": med, "samples_s": samples,
           "session_create_and_first_run_s": statistics.median(session),
           "per_job_overhead_s": med["+ onnxruntime"],
           "per_job_overhead_numpy_job_s": med["+ numpy"],
           "goal_s": 0.3}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1))
    print(json.dumps({k: v for k, v in doc.items() if k != "samples_s"}, indent=1))
    assert med["interpreter"] > 0
