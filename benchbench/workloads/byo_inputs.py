"""Inputs of a bring-your-own model: what the user gave, what is generated, and never an invented value.

A model input gets its values from exactly one source, decided on the controller and recorded:

- ``npz``: real samples from ``--inputs DATA.npz`` (calibration takes the first 3/4, validation the rest);
- ``fixed``: ``--input NAME=VALUE`` (a sample rate, a mode flag, a shape tensor);
- a generator the user named: ``--input NAME=randint:LO:HI`` (inclusive), ``uniform:LO:HI``,
  ``normal[:MEAN:STD]``;
- seeded standard normal, only for floating-point inputs: a float input of noise is still a valid input.

An integer or bool input without one of the first three is an error naming the input, its dtype and shape
and the flags to give: zero-filling it silently once timed a VAD model's 8 kHz branch and validated a byte
classifier on identical all-zero samples.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

GENERATORS = ("randint", "uniform", "normal")
_FLOATS = ("float16", "float32", "float64", "bfloat16")


def parse_input(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``, ``NAME=V1,V2,...`` or ``NAME=GENERATOR[:A:B]`` → (NAME, number | list | generator)."""
    name, sep, raw = text.partition("=")
    if not sep or not name or not raw:
        raise ConfigError(f"--input {text!r}: expected NAME=NUMBER, NAME=N1,N2,... or NAME=randint:LO:HI "
                          "(also uniform:LO:HI, normal[:MEAN:STD])", key="input")
    kind, _, rest = raw.partition(":")
    if kind in GENERATORS:
        return name, _generator(text, kind, rest)
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if not values or not all(np.isfinite(values)):
        raise ConfigError(f"--input {text!r}: expected NAME=NUMBER, NAME=N1,N2,... or NAME=randint:LO:HI "
                          "(also uniform:LO:HI, normal[:MEAN:STD]) with finite numbers", key="input")
    return name, values[0] if len(values) == 1 else values


def _generator(text: str, kind: str, rest: str) -> dict[str, Any]:
    try:
        args = [float(a) for a in rest.split(":")] if rest else []
    except ValueError:
        args = [float("nan")]
    wanted = {"randint": (2,), "uniform": (2,), "normal": (0, 2)}[kind]
    if len(args) not in wanted or not all(np.isfinite(args)):
        form = {"randint": "randint:LO:HI", "uniform": "uniform:LO:HI", "normal": "normal or normal:MEAN:STD"}
        raise ConfigError(f"--input {text!r}: expected {form[kind]} with finite numbers", key="input")
    if kind == "normal":
        mean, std = args or [0.0, 1.0]
        if std <= 0:
            raise ConfigError(f"--input {text!r}: the standard deviation must be positive", key="input")
        return {"gen": "normal", "a": mean, "b": std}
    lo, hi = args
    if hi < lo or (kind == "randint" and (lo != int(lo) or hi != int(hi))):
        raise ConfigError(f"--input {text!r}: expected LO <= HI"
                          + (" (integers)" if kind == "randint" else ""), key="input")
    return {"gen": kind, "a": lo, "b": hi}


def is_generator(value: Any) -> bool:
    return isinstance(value, dict) and value.get("gen") in GENERATORS


def describe(value: Any) -> str:
    if is_generator(value):
        return {"randint": "seeded random integers in [{a:g}, {b:g}]",
                "uniform": "seeded uniform in [{a:g}, {b:g})",
                "normal": "seeded normal (mean {a:g}, sd {b:g})"}[value["gen"]].format(**value)
    return f"fixed value {value}"


def check_sources(names_shapes: dict[str, list[int]], dtypes: dict[str, str], given: dict[str, Any],
                  npz_arrays: set[str]) -> dict[str, str]:
    """Where each input's values come from, in words; raises for an integer/bool input with no source."""
    out: dict[str, str] = {}
    for name, shape in names_shapes.items():
        dtype = dtypes[name]
        if name in npz_arrays:
            out[name] = "real samples from the --inputs file"
        elif name in given:
            value = given[name]
            if is_generator(value) and value["gen"] != "randint" and dtype not in _FLOATS:
                raise ConfigError(f"--input {name}: {value['gen']} generates floats but the input is "
                                  f"{dtype}; use randint:LO:HI", key="input")
            out[name] = describe(value)
        elif dtype in _FLOATS:
            out[name] = "seeded standard normal (synthetic)"
        else:
            dims = "x".join(str(d) for d in shape) or "scalar"
            raise ConfigError(
                f"input {name!r} is {dtype} with shape [{', '.join(map(str, shape))}] and benchbench "
                f"will not invent its values; give --input {name}=VALUE (e.g. a sample rate), "
                f"--input {name}=randint:LO:HI, or --inputs DATA.npz with an array {name!r} "
                f"of shape {dims} or N x {dims}", key="input")
    return out


def npz_arrays(path: Path, shapes: dict[str, list[int]], dtypes: dict[str, str]) -> tuple[str, set[str], int]:
    """Checks an ``--inputs`` file; returns (its sha256, the array names, the sample count)."""
    if not path.is_file():
        raise ConfigError(f"inputs file not found: {path}", key="inputs")
    data_bytes = path.read_bytes()
    if not data_bytes.startswith(b"PK"):
        raise ConfigError(f"{path} is not an .npz archive (save one with numpy.savez(path, NAME=array, ...))",
                          key="inputs")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001  zipfile/ValueError (object arrays refused: never unpickle): "not an npz of arrays"
        raise ConfigError(f"{path} is not a readable .npz of numeric arrays: "
                          f"{str(exc).splitlines()[0][:160]}", key="inputs") from None
    counts = []
    for name, arr in arrays.items():
        if name not in shapes:
            raise ConfigError(f"{path}: array {name!r} matches no model input ({', '.join(sorted(shapes))})",
                              key="inputs")
        if list(arr.shape) == shapes[name]:
            counts.append(1)
        elif list(arr.shape[1:]) == shapes[name]:
            counts.append(int(arr.shape[0]))
        else:
            raise ConfigError(f"{path}: array {name!r} has shape {list(arr.shape)}, expected {shapes[name]} "
                              f"or [N, {', '.join(map(str, shapes[name]))}]", key="inputs")
        if arr.dtype.kind not in "biuf":
            raise ConfigError(f"{path}: array {name!r} has dtype {arr.dtype}, not numeric", key="inputs")
    return hashlib.sha256(data_bytes).hexdigest(), set(arrays), min(counts) if counts else 0


def _fixed_value(value: Any, shape: list[int], dtype: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    return (arr.reshape(shape) if arr.size == int(np.prod(shape))
            else np.full(shape, arr.reshape(-1)[0], dtype=dtype))


def _generated(spec: Any, shape: list[int], dtype: str, rng: np.random.Generator) -> np.ndarray:
    out: Any
    if spec["gen"] == "randint":
        out = rng.integers(int(spec["a"]), int(spec["b"]) + 1, size=shape)
    elif spec["gen"] == "uniform":
        out = rng.uniform(spec["a"], spec["b"], size=shape)
    else:
        out = spec["a"] + spec["b"] * rng.standard_normal(shape)
    return np.asarray(out).astype(dtype)


def sample_feeds(params: dict[str, Any], purpose: str, seed: int, n: int) -> list[dict[str, np.ndarray]]:
    """``n`` feeds for calibration or validation (see the module docstring for the sources)."""
    shapes: dict[str, list[int]] = params["shapes"]
    dtypes: dict[str, str] = params["dtypes"]
    given: dict[str, Any] = params.get("fixed") or {}
    real: dict[str, list[np.ndarray]] = {}
    if params.get("npz"):
        with np.load(params["npz"], allow_pickle=False) as data:
            for name in data.files:
                arr = data[name]
                samples = [arr] if list(arr.shape) == shapes[name] else list(arr)
                if len(samples) >= 4:
                    cut = len(samples) * 3 // 4
                    samples = samples[:cut] if purpose == "calibration" else samples[cut:]
                real[name] = [s.astype(dtypes[name]) for s in samples]
    rng = np.random.default_rng(seed)
    feeds = []
    for i in range(n):
        feed: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            dtype = dtypes[name]
            value = given.get(name)
            if name in real:
                feed[name] = real[name][i % len(real[name])]
            elif is_generator(value):
                feed[name] = _generated(value, shape, dtype, rng)
            elif value is not None:
                feed[name] = _fixed_value(value, shape, dtype)
            else:  # check_sources allowed only float inputs here
                feed[name] = rng.standard_normal(shape).astype(dtype)
        feeds.append(feed)
    return feeds


def identical_samples(feeds: list[dict[str, np.ndarray]]) -> bool:
    """Whether every feed is the same (validating on identical samples shows nothing)."""
    if len(feeds) < 2:
        return False
    first = feeds[0]
    return all(all(np.array_equal(f[k], first[k]) for k in first) for f in feeds[1:])
