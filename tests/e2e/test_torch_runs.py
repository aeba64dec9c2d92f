"""PyTorch through the real CLI on the local board: bring-your-own TorchScript and ExportedProgram files,
bad torch files refused with exit 2 (never unpickled), and a torch × ONNX Runtime suite whose matrix shows
both runtimes side by side with not-applicable rows stored as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from benchbench.analysis.matrix import build_matrix
from benchbench.results.store import Store

TIMING = ("timing: {warmup_s: 0.02, min_value_s: 0.002, rounds: 2, values_per_round: 3, max_timed_s: 1}\n"
          "sampling: {interval_s: 0.05, measure_overhead: false}\n")


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(image)).mean(dim=(2, 3)))


def _run(bb, env, cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    return bb("run", *args, "--db", "r.db", "--json", "--no-report", env=env, cwd=cwd)


def test_byo_torchscript_and_exported_program_through_the_cli(tmp_path: Path, bb, bb_env) -> None:
    m = Tiny().eval()
    torch.jit.save(torch.jit.script(m), str(tmp_path / "tiny.pt"))
    batch = torch.export.Dim("batch", min=1, max=4)
    torch.export.save(torch.export.export(m, (torch.randn(2, 3, 32, 32),), dynamic_shapes={"image": {0: batch}}),
                      str(tmp_path / "tiny.pt2"))
    res = _run(bb, bb_env, tmp_path, "--model", "tiny.pt", "--shape", "image=1x3x32x32")
    assert res.returncode == 0, res.stderr
    res2 = _run(bb, bb_env, tmp_path, "--model", "tiny.pt2", "--shape", "image=2x3x32x32")
    assert res2.returncode == 0, res2.stderr
    store = Store(tmp_path / "r.db")
    for out, fmt, shape in ((res, "TorchScript", [1, 3, 32, 32]), (res2, "ExportedProgram", [2, 3, 32, 32])):
        job, = store.load_run(json.loads(out.stdout)["run_id"]).jobs
        assert (job.workload, job.backend, job.precision, job.status) == ("byo:tiny", "torch", "fp32", "ok")
        assert job.implementation is not None and fmt in job.implementation
        assert job.details["extra"]["inputs"] == {"image": [shape, "float32"]}
        assert job.value("latency.p50") is not None and 0 < job.value("latency.p50") < 1.0


def test_bad_torch_files_exit_2_and_are_never_unpickled(tmp_path: Path, bb, bb_env) -> None:
    canary = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.touch, (canary,))

    torch.save(Tiny(), str(tmp_path / "whole.pt"))
    torch.save({"w": Evil()}, str(tmp_path / "evil.pt"))
    torch.save(Tiny().state_dict(), str(tmp_path / "weights.pt"))
    (tmp_path / "notes.pt").write_text("not a model")
    x = torch.randn(1, 3, 32, 32)
    torch.export.save(torch.export.export(Tiny().eval(), (x,)), str(tmp_path / "static.pt2"))
    cases = {"whole.pt": "pickled whole model", "evil.pt": "never unpickles", "weights.pt": "state_dict",
             "notes.pt": "not a PyTorch model"}
    for name, words in cases.items():
        res = _run(bb, bb_env, tmp_path, "--model", name)
        assert res.returncode == 2, (name, res.stderr)
        assert name in res.stderr and words in res.stderr, res.stderr
    res = _run(bb, bb_env, tmp_path, "--model", "whole.pt")
    assert "torch.jit.save" in res.stderr and "torch.export.save" in res.stderr
    assert not canary.exists()
    res = _run(bb, bb_env, tmp_path, "--model", "static.pt2", "--shape", "image=2x3x32x32")
    assert res.returncode == 2 and "'image'" in res.stderr and "constraints" in res.stderr, res.stderr


@pytest.mark.slow
@pytest.mark.timeout(1500)  # 60 torch variants made and timed: minutes on a 2-core machine
def test_torch_suite_precisions_pruning_and_runtimes_side_by_side(tmp_path: Path, bb, bb_env) -> None:
    cnn = "{width: 0.25, resolution: 32, num_classes: 50, num_threads: 1, validation_samples: 2, calibration_samples: 2}"
    llm = ("{vocab: 256, hidden: 32, layers: 1, heads: 2, ffn: 64, seq_len: 8, max_len: 16, new_tokens: 4, "
           "generations: 1, num_threads: 1, validation_samples: 2, calibration_samples: 2}")
    precisions = "[fp32, fp16, bf16, int8-dynamic, int8-static]"
    pruning = "[none, unstructured-20, unstructured-50, structured-50]"
    jobs = "".join(f"  - workload: {w}\n    backend: torch\n    precisions: {precisions}\n    pruning: {pruning}\n"
                   f"    params: {p}\n" for w, p in (("mobilenetv2", cnn), ("resnet18", cnn), ("decoder", llm)))
    jobs += ("  - workload: resnet18\n    precisions: [fp32]\n"
             "    params: {width: 0.25, resolution: 32, num_classes: 50, intra_op_threads: 1}\n")
    (tmp_path / "s.yaml").write_text("name: torch\n" + TIMING + "jobs:\n" + jobs)
    res = bb("run", "--suite", "s.yaml", "--db", "r.db", "--json", "--report", "r.html", env=bb_env, cwd=tmp_path,
             timeout=1400)
    assert res.returncode == 0, res.stderr
    run = Store(tmp_path / "r.db").load_run(json.loads(res.stdout)["run_id"])
    torch_jobs = [j for j in run.jobs if j.backend == "torch"]
    assert len(torch_jobs) == 3 * 5 * 4
    assert {j.status for j in torch_jobs} <= {"ok", "unsupported"}
    for j in torch_jobs:
        if j.status == "unsupported":
            assert j.reason and "not applicable" in j.reason or "no " in (j.reason or ""), j.reason
    ok = {(j.workload, j.precision, j.pruning) for j in torch_jobs if j.status == "ok"}
    for w in ("mobilenetv2", "resnet18", "decoder"):
        for pr in ("none", "unstructured-20", "unstructured-50", "structured-50"):
            assert {(w, "fp32", pr), (w, "int8-dynamic", pr), (w, "int8-static", pr)} <= ok
    dec = next(j for j in torch_jobs if (j.workload, j.precision, j.pruning) == ("decoder", "fp32", "none"))
    assert dec.value("llm.decode_tps") and dec.value("llm.ttft")
    rows = [r for r in build_matrix(run.jobs) if r.workload == "resnet18" and r.precision == "fp32"
            and r.pruning == "none"]
    assert {r.backend for r in rows} == {"torch", "onnxruntime"}
    html = (tmp_path / "r.html").read_text()
    assert "torch" in html and "onnxruntime" in html
