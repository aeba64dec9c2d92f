"""RKNN variants: the missing-toolkit path (always), and (marker ``rknn``) the real rknn-toolkit2 conversion
and simulator run when ``$BENCHBENCH_RKNN_PYTHON`` points at an environment made by
scripts/setup-rknn-venv.sh."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from benchbench.config.suite import load_suite
from benchbench.errors import ConfigError
from benchbench.workloads import rknn_convert
from benchbench.workloads.registry import expand

CNN = "{width: 0.35, resolution: 64, num_classes: 100, calibration_samples: 8, validation_samples: 8}"
SUITE = f"""\
name: rknn
timing: {{warmup_s: 0.02, min_value_s: 0.002, rounds: 2, values_per_round: 5, max_timed_s: 1}}
jobs:
  - workload: mobilenetv2
    backend: rknn
    params: {CNN}
"""


def _suite(tmp_path: Path, text: str = SUITE) -> Path:
    p = tmp_path / "rknn.yaml"
    p.write_text(text)
    return p


def test_missing_toolkit_plans_unsupported_jobs_with_the_setup_hint(tmp_path: Path, cache_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rknn_convert.ENV_VAR, raising=False)
    monkeypatch.setattr(rknn_convert, "DEFAULT_VENV_PYTHONS", (tmp_path / "no-venv" / "bin" / "python",))
    path = _suite(tmp_path)
    jobs = expand(load_suite(path), str(path), cache_dir)
    assert [j.spec.precision for j in jobs] == ["int8", "fp16"]
    for j in jobs:
        assert j.spec.backend == "rknn"
        assert j.precheck_status == "unsupported"
        assert j.precheck_failure is not None
        assert j.precheck_failure.startswith("rknn-toolkit2 venv not found: run scripts/setup-rknn-venv.sh")
        assert rknn_convert.ENV_VAR in j.precheck_failure
        assert j.artifact_path is None
    assert not list((cache_dir / "variants").glob("*-rknn-*"))  # nothing converted, nothing cached


def test_interpreter_without_the_toolkit_or_not_a_file_is_named(tmp_path: Path) -> None:
    no_file, _, why = rknn_convert.find_python(tmp_path / "nope" / "python", environ={})
    assert no_file is None and why is not None and "is not an executable file" in why
    # this test process's own interpreter runs fine but has no rknn-toolkit2 (it needs its own venv)
    assert rknn_convert.find_python(sys.executable)[2] == (
        f"{rknn_convert.MISSING_REASON} ({sys.executable} has no rknn-toolkit2)")


def test_onnx_precisions_do_not_apply_to_rknn(tmp_path: Path, cache_dir: Path) -> None:
    path = _suite(tmp_path, SUITE.replace("backend: rknn", "backend: rknn\n    precisions: [int8-static]"))
    with pytest.raises(ConfigError, match=r"'int8-static' does not apply to the rknn backend") as err:
        expand(load_suite(path), str(path), cache_dir)
    assert err.value.key == "jobs[0].precisions[0]"


def test_downconvert_lowers_opset_and_ir(tiny_cnn: object, tmp_path: Path) -> None:
    src = tiny_cnn.path  # type: ignore[attr-defined]
    assert onnx.load(str(src)).opset_import[0].version > rknn_convert.MAX_OPSET
    info = rknn_convert.downconvert(src, tmp_path / "m19.onnx")
    out = onnx.load(str(tmp_path / "m19.onnx"))
    onnx.checker.check_model(out)
    assert info["opset"] == rknn_convert.MAX_OPSET == out.opset_import[0].version
    assert out.ir_version <= 9


def test_calibration_dataset_is_nchw_npy_per_line(tmp_path: Path) -> None:
    feeds = [{"a": np.full((1, 3, 4, 5), i, np.float32), "b": np.zeros((1, 2), np.float32)} for i in range(3)]
    ds = rknn_convert.write_dataset(tmp_path, feeds, ["a", "b"])
    lines = ds.read_text().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        a, b = line.split(" ")
        assert np.load(a).shape == (1, 3, 4, 5) and float(np.load(a)[0, 0, 0, 0]) == i
        assert np.load(b).shape == (1, 2)


@pytest.mark.slow
@pytest.mark.rknn
@pytest.mark.skipif(rknn_convert.find_python()[0] is None,
                    reason="no rknn-toolkit2 venv (scripts/setup-rknn-venv.sh; "
                           f"or set {rknn_convert.ENV_VAR})")
def test_real_conversion_and_simulator_fidelity(tmp_path: Path, cache_dir: Path) -> None:
    path = _suite(tmp_path, SUITE.replace("backend: rknn",
                                          "backend: rknn\n    pruning: [none, structured-50]"))
    jobs = expand(load_suite(path), str(path), cache_dir)
    assert [(j.spec.precision, j.spec.pruning) for j in jobs] == [
        ("int8", "none"), ("int8", "structured-50"), ("fp16", "none"), ("fp16", "structured-50")]
    sizes = {}
    for j in jobs:
        assert j.precheck_failure is None, j.precheck_failure
        assert j.artifact_path is not None and j.artifact_path.suffix == ".rknn"
        assert j.spec.artifact == j.artifact_path.name
        sizes[(j.spec.precision, j.spec.pruning)] = j.artifact_path.stat().st_size
        assert j.spec.params["inputs"] == [{"name": "image", "shape": [1, 64, 64, 3], "dtype": "float32"}]
        v = j.meta
        assert v["status"] == "ok" and v["tool_versions"]["rknn-toolkit2"]
        assert v["size_bytes"] == sizes[(j.spec.precision, j.spec.pruning)]
        fid = v["validation"]["main"]["fidelity"]
        assert fid["samples"] == 8 and np.isfinite(fid["cosine_mean"]) and np.isfinite(fid["sqnr_db"])
    # fp16 on the NPU simulator tracks fp32 closely; int8 weights make a smaller file than fp16
    fp16 = jobs[2].meta["validation"]["main"]["fidelity"]
    assert fp16["cosine_mean"] > 0.99
    assert sizes[("int8", "none")] < sizes[("fp16", "none")]
    assert sizes[("int8", "structured-50")] < sizes[("int8", "none")]
    again = expand(load_suite(path), str(path), cache_dir)  # cached by content: nothing reconverted
    assert all(j.meta["from_cache"] for j in again)
