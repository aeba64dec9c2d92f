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


@pytest.mark.slow
def test_byo_torchscript_and_exported_program_through_the_cli(tmp_path: Path, bb, bb_env) -> None:
    m = Tiny().eval()
    torch.jit.save(torch.jit.script(m), str(tmp_path / "tiny.pt"))
    batch = torch.export.Dim("batch", min=1, max=4)
    torch.export.save(torch.export.export(m, (torch.randn(2, 3, 32, 32),),
                                          dynamic_shapes={"image": {0: batch}}),
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


@pytest.mark.slow
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


CNN = ("{width: 0.25, resolution: 32, num_classes: 50, num_threads: 1, validation_samples: 2, "
       "calibration_samples: 2}")
LLM = ("{vocab: 256, hidden: 32, layers: 1, heads: 2, ffn: 64, seq_len: 8, max_len: 16, new_tokens: 4, "
       "generations: 1, num_threads: 1, validation_samples: 2, calibration_samples: 2}")
ALL_PRECISIONS = ["fp32", "fp16", "bf16", "int8-dynamic", "int8-static"]
ALL_PRUNING = ["none", "unstructured-20", "unstructured-50", "structured-50"]


def _torch_suite(tmp_path: Path, bb, bb_env, entries: list[tuple[str, str, list[str], list[str]]]):  # type: ignore[no-untyped-def]
    """Runs the torch entries plus an ONNX Runtime resnet18 fp32 row; returns the stored run."""
    jobs = "".join(f"  - workload: {w}\n    backend: torch\n    precisions: [{', '.join(pr)}]\n"
                   f"    pruning: [{', '.join(pn)}]\n    params: {p}\n" for w, p, pr, pn in entries)
    jobs += ("  - workload: resnet18\n    precisions: [fp32]\n"
             "    params: {width: 0.25, resolution: 32, num_classes: 50, intra_op_threads: 1}\n")
    (tmp_path / "s.yaml").write_text("name: torch\n" + TIMING + "jobs:\n" + jobs)
    res = bb("run", "--suite", "s.yaml", "--db", "r.db", "--json", "--report", "r.html", env=bb_env,
             cwd=tmp_path, timeout=1400)
    assert res.returncode == 0, res.stderr
    return Store(tmp_path / "r.db").load_run(json.loads(res.stdout)["run_id"])


def _check(run, tmp_path: Path, expected: int) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    torch_jobs = [j for j in run.jobs if j.backend == "torch"]
    assert len(torch_jobs) == expected
    assert {j.status for j in torch_jobs} <= {"ok", "unsupported"}
    for j in torch_jobs:
        if j.status == "unsupported":  # not applicable here (e.g. fp16 without native CPU support): says why
            assert j.reason and ("not applicable" in j.reason or "no " in j.reason), j.reason
    rows = [r for r in build_matrix(run.jobs) if r.workload == "resnet18" and r.precision == "fp32"
            and r.pruning == "none"]
    assert {r.backend for r in rows} == {"torch", "onnxruntime"}  # the runtime axis, side by side
    html = (tmp_path / "r.html").read_text()
    assert "torch" in html and "onnxruntime" in html
    return {(j.workload, j.precision, j.pruning) for j in torch_jobs if j.status == "ok"}


@pytest.mark.slow
def test_torch_suite_every_precision_and_pruning_level_beside_onnxruntime(tmp_path: Path, bb, bb_env) -> None:
    """Every precision and every pruning level at least once (the cross product is the heavy test below)."""
    run = _torch_suite(tmp_path, bb, bb_env, [
        ("mobilenetv2", CNN, ALL_PRECISIONS, ["none"]),
        ("resnet18", CNN, ["fp32", "int8-static"], ALL_PRUNING),
        ("decoder", LLM, ["fp32", "int8-dynamic"], ["none"])])
    ok = _check(run, tmp_path, 5 + 2 * 4 + 2)
    assert {("mobilenetv2", p, "none") for p in ("fp32", "int8-dynamic", "int8-static")} <= ok
    assert {("resnet18", p, pn) for p in ("fp32", "int8-static") for pn in ALL_PRUNING} <= ok
    dec = next(j for j in run.jobs if (j.backend, j.workload, j.precision) == ("torch", "decoder", "fp32"))
    assert dec.value("llm.decode_tps") and dec.value("llm.ttft")
    assert ("decoder", "int8-dynamic", "none") in ok


@pytest.mark.heavy
@pytest.mark.timeout(1500)  # 60 torch variants made and timed: ~10 minutes on a loaded 2-core machine
def test_torch_suite_precisions_pruning_and_runtimes_side_by_side(tmp_path: Path, bb, bb_env) -> None:
    run = _torch_suite(tmp_path, bb, bb_env, [(w, p, ALL_PRECISIONS, ALL_PRUNING)
                                              for w, p in (("mobilenetv2", CNN), ("resnet18", CNN),
                                                           ("decoder", LLM))])
    ok = _check(run, tmp_path, 3 * 5 * 4)
    for w in ("mobilenetv2", "resnet18", "decoder"):
        for pr in ALL_PRUNING:
            assert {(w, "fp32", pr), (w, "int8-dynamic", pr), (w, "int8-static", pr)} <= ok
