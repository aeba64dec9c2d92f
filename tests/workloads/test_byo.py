from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from benchbench.errors import ConfigError
from benchbench.workloads.byo import load_byo, parse_input, parse_shape
from benchbench.workloads.byo_inputs import sample_feeds
from benchbench.workloads.variants import make_variant


def silero_model(name: str = "silero_vad_16k_op15.onnx") -> Path:
    """A real trained model shipped in a wheel (installed with pip install --no-deps silero-vad)."""
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps silero-vad"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _dynamic_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    w = onnx.numpy_helper.from_array(np.ones((8, 4), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.save(m, str(path))
    return path


def test_parsers() -> None:
    assert parse_shape("image=1x3x224x224") == ("image", [1, 3, 224, 224])
    assert parse_input("sr=16000") == ("sr", 16000.0)
    assert parse_input("mask=1,0,1") == ("mask", [1.0, 0.0, 1.0])
    for bad in ("image", "image=1xAx3", "=1x2"):
        with pytest.raises(ConfigError, match="--shape"):
            parse_shape(bad)
    with pytest.raises(ConfigError, match="--input"):
        parse_input("sr=fast")


def test_bad_files_give_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as exc:
        load_byo(tmp_path / "nope.onnx", cache_dir=tmp_path)
    assert "\n" not in str(exc.value)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not protobuf" * 10)
    with pytest.raises(ConfigError, match="not a readable ONNX model") as exc:
        load_byo(corrupt, cache_dir=tmp_path)
    assert "\n" not in str(exc.value)
    dyn = _dynamic_model(tmp_path / "dyn.onnx")
    with pytest.raises(ConfigError, match=r"dynamic dimension 'batch'.*--shape x=Nx8"):
        load_byo(dyn, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown input"):
        load_byo(dyn, shapes={"z": [1, 8]}, cache_dir=tmp_path)
    art = load_byo(dyn, shapes={"x": [2, 8]}, cache_dir=tmp_path)
    # the model as given runs: the same bytes, dims still dynamic; the shape applies to the feeds only
    assert art.path.read_bytes() == dyn.read_bytes()
    dims = [d.dim_param or d.dim_value
            for d in onnx.load(str(art.path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 8] and art.params["shapes"] == {"x": [2, 8]} and art.flops == 2 * 2 * 8 * 4
    assert art.meta["as_given"]["nodes"] == 1 and art.meta["as_given"]["precision"] == "fp32"
    with pytest.raises(ConfigError, match="fixed to 8"):
        load_byo(dyn, shapes={"x": [2, 9]}, cache_dir=tmp_path)


def _reshape_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=1)], "g", [x, shape],
                          [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.save(m, str(path))
    return path


def test_integer_inputs_are_never_invented(tmp_path: Path) -> None:
    model = _reshape_model(tmp_path / "reshape.onnx")
    with pytest.raises(ConfigError) as exc:
        load_byo(model, cache_dir=tmp_path)
    msg = str(exc.value)
    assert "'shape'" in msg and "int64" in msg and "[2]" in msg
    assert "--input shape=" in msg and "--inputs" in msg
    assert load_byo(model, fixed={"shape": [4, 2]}, cache_dir=tmp_path).kind == "byo"
    # a value the model rejects: the model's own error and the hint
    with pytest.raises(ConfigError, match="rejected the given inputs") as werr:
        load_byo(model, fixed={"shape": [3, 3]}, cache_dir=tmp_path)
    assert werr.value.hint and "--input" in werr.value.hint


def test_explicit_generator_for_an_integer_input(tmp_path: Path) -> None:
    # a byte classifier: int32 bytes in [0, 255]; every validation sample differs
    x = helper.make_tensor_value_info("bytes", TensorProto.INT32, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = onnx.numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32),
                                     "w")
    g = helper.make_graph([helper.make_node("Cast", ["bytes"], ["f"], to=TensorProto.FLOAT),
                           helper.make_node("MatMul", ["f", "w"], ["y"])], "g", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.save(m, str(tmp_path / "bytes.onnx"))
    name, gen = parse_input("bytes=randint:0:255")
    art = load_byo(tmp_path / "bytes.onnx", fixed={name: gen}, cache_dir=tmp_path)
    assert "random integers in [0, 255]" in art.params["input_sources"]["bytes"]
    feeds = sample_feeds(art.params, "validation", 1, 4)
    values = np.stack([f["bytes"] for f in feeds])
    assert values.min() >= 0 and values.max() <= 255 and len({v.tobytes() for v in values}) == 4
    with pytest.raises(ConfigError, match="randint"):
        load_byo(tmp_path / "bytes.onnx", fixed={"bytes": parse_input("bytes=normal")[1]}, cache_dir=tmp_path)
    v = make_variant(art, "int8-dynamic", cache_dir=tmp_path, n_calibration=4, n_validation=3)
    assert v.status == "ok", v.reason
    assert "warnings" not in v.validation["main"]
    fixed = load_byo(tmp_path / "bytes.onnx", fixed={"bytes": 7}, cache_dir=tmp_path)
    same = make_variant(fixed, "int8-dynamic", cache_dir=tmp_path, n_calibration=4, n_validation=3)
    assert "identical" in same.validation["main"]["warnings"][0]


def test_npz_inputs_are_checked(tmp_path: Path) -> None:
    dyn = _dynamic_model(tmp_path / "dyn.onnx")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ConfigError, match="shape"):
        load_byo(dyn, shapes={"x": [1, 8]}, inputs_npz=bad, cache_dir=tmp_path)
    good = tmp_path / "good.npz"
    np.savez(good, x=np.arange(6 * 8, dtype=np.float32).reshape(6, 1, 8))
    art = load_byo(dyn, shapes={"x": [1, 8]}, inputs_npz=good, cache_dir=tmp_path)
    v = make_variant(art, "int8-dynamic", cache_dir=tmp_path, n_calibration=4, n_validation=2)
    assert v.status == "ok", v.reason


def test_real_silero_vad_variants(tmp_path: Path) -> None:
    art = load_byo(silero_model(), shapes={"input": [1, 512], "state": [2, 1, 128]}, fixed={"sr": 16000},
                   cache_dir=tmp_path)
    assert art.kind == "byo" and art.params["dtypes"]["sr"] == "int64"
    assert art.path.read_bytes() == silero_model().read_bytes()  # the fp32 job runs the file as given
    fp32 = make_variant(art, "fp32", cache_dir=tmp_path, n_calibration=8, n_validation=6)
    fp16 = make_variant(art, "fp16", cache_dir=tmp_path, n_calibration=8, n_validation=6)
    int8 = make_variant(art, "int8-static", cache_dir=tmp_path, n_calibration=8, n_validation=6)
    for v in (fp32, fp16, int8):
        assert v.status == "ok", v.reason
    assert fp32.sha256 and fp32.path.read_bytes() == silero_model().read_bytes()
    # both outputs validated; the 1-element speech probability has no cosine
    assert set(fp16.validation["main"]["outputs"]) == {"output", "stateN"}
    assert fp16.validation["main"]["outputs"]["output"]["cosine_mean"] is None
    assert fp16.validation["main"]["fidelity"]["sqnr_db"] > 30
    worst = int8.validation["main"]["worst_output"]
    assert int8.validation["main"]["fidelity"]["output"] == worst
    assert int8.validation["main"]["fidelity"]["sqnr_db"] == min(
        o["sqnr_db"] for o in int8.validation["main"]["outputs"].values())
    assert int8.validation["main"]["quantized_compute_ops"] > 0
    dyn = make_variant(art, "int8-dynamic", cache_dir=tmp_path)
    assert dyn.status == "not-applicable" and "MatMul" in (dyn.reason or "")
    assert load_byo(silero_model(), shapes={"input": [1, 512], "state": [2, 1, 128]}, fixed={"sr": 16000},
                    cache_dir=tmp_path).from_cache
