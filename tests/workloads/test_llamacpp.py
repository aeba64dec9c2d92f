"""llama.cpp GGUF models with real llama.cpp (llama-cpp-python): the reference GGUF loads, the quantization
sweep (sizes, k-quant applicability, fidelity vs f16, cache), the agent backend's windows and numbers, an
architecture llama.cpp cannot run, and a board with neither llama-cpp-python nor llama-bench."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp",
                    reason="llama-cpp-python is not installed (pip install '.[llm]'; .ci/setup does)")

from benchbench.agent.backends import Unsupported, llamabench, prepare
from benchbench.agent.protocol import JobSpec, TimingPlan
from benchbench.config.suite import JobEntry, Suite
from benchbench.errors import ConfigError
from benchbench.workloads import gguf_jobs, gguf_models, gguf_quant
from benchbench.workloads.gguf_fidelity import _Model
from benchbench.workloads.plan import ExpandContext
from benchbench.workloads.staging import BYO_FLAGS


def _ctx(suite: Suite, suite_file: str, cache: Path) -> ExpandContext:
    return ExpandContext(suite=suite, suite_file=suite_file, cache_dir=cache, seen=set(),
                         target_arch="x86_64")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gguf-cache")


@pytest.fixture(scope="module")
def reference(cache: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    return gguf_models.build_reference({}, 0, cache)


def test_reference_gguf_header_and_llama_cpp_loads_it(reference: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    path, facts = reference
    assert (facts["architecture"], facts["file_type"]) == ("llama", "f16")
    assert 1_000_000 < facts["n_params"] < 2_000_000 and facts["size_bytes"] < 4_000_000
    assert facts["row_lengths"] == [256, 512]
    m = _Model(path, 64)
    try:
        assert (m.n_vocab, m.bos) == (259, 1)
        logits = m.logits([1, 72, 101, 108])
        assert logits.shape == (4, 259) and 1.0 < float(logits.std()) < 20.0  # a spread, not near-uniform
    finally:
        m.close()


def test_quantization_sweep_sizes_fidelity_and_cache(reference: tuple[Path, dict], cache: Path) -> None:  # type: ignore[type-arg]
    path, facts = reference
    v = {t: gguf_quant.make_gguf_variant(path, facts, t, cache, n_eval=64)
         for t in ("f16", "q8_0", "q4_0", "q4_k_m")}
    assert all(x["status"] == "ok" for x in v.values()), {t: x.get("reason") for t, x in v.items()}
    assert v["f16"]["path"] == str(path) and v["f16"]["tool"] == "as given"
    assert v["f16"]["size_bytes"] > v["q8_0"]["size_bytes"] > v["q4_k_m"]["size_bytes"]
    assert v["q8_0"]["size_bytes"] > v["q4_0"]["size_bytes"]
    assert "q4_k" in v["q4_k_m"]["tensor_types"] and "q4_0" in v["q4_0"]["tensor_types"]
    f = {t: x["fidelity"] for t, x in v.items()}
    assert f["f16"]["top1_agreement"] == 1.0 and f["f16"]["perplexity_ratio"] == 1.0
    assert f["q8_0"]["top1_agreement"] >= 0.9 and abs(f["q8_0"]["perplexity_ratio"] - 1) < 0.05
    assert f["q4_0"]["top1_agreement"] < f["q8_0"]["top1_agreement"] + 1e-9
    assert not any(x["exploded"] for x in f.values())
    again = gguf_quant.make_gguf_variant(path, facts, "q4_0", cache, n_eval=64)
    assert again["from_cache"] and again["sha256"] == v["q4_0"]["sha256"]


def test_k_quants_not_applicable_to_narrow_rows(cache: Path) -> None:
    arch = {"hidden": 128, "ffn": 256, "heads": 2, "kv_heads": 1}
    path, facts = gguf_models.build_reference(arch, 0, cache)
    v = gguf_quant.make_gguf_variant(path, facts, "q4_k_m", cache)
    assert v["status"] == "not-applicable" and "256" in v["reason"] and "128" in v["reason"]
    assert gguf_quant.make_gguf_variant(path, facts, "q4_0", cache, n_eval=32)["status"] == "ok"


def test_unknown_quantization_type_lists_the_known_ones(cache: Path) -> None:
    suite = Suite(name="s", jobs=[JobEntry(workload="llm-gguf", precisions=["q4_0", "q9_9"])])
    with pytest.raises(ConfigError) as err:
        gguf_jobs.expand(suite.jobs[0], 0, _ctx(suite, "s.yaml", cache))
    assert "q9_9" in str(err.value) and "q4_k_m" in str(err.value)
    assert err.value.key == "jobs[0].precisions[1]"


def test_corrupt_and_truncated_gguf_are_config_errors_naming_the_file(reference: tuple[Path, dict],  # type: ignore[type-arg]
                                                                      tmp_path: Path) -> None:
    data = reference[0].read_bytes()
    cases = {"trunc.gguf": data[: len(data) // 2], "header.gguf": data[:300], "junk.gguf": b"not a gguf" * 50}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ConfigError) as err:
            gguf_models.describe(tmp_path / name)
        assert name in str(err.value)


def _job(artifact: str, **params: object) -> JobSpec:
    return JobSpec(job_key="k", workload="llm-gguf", backend="llama.cpp", precision="q4_0", artifact=artifact,
                   params={"n_prompt": 32, "n_gen": 16, "generations": 2, "threads": 2, "llama_bench": False,
                           **params}, timing=TimingPlan(), seed=3)


def test_agent_backend_measures_and_states_its_windows(reference: tuple[Path, dict], cache: Path) -> None:  # type: ignore[type-arg]
    path, facts = reference
    v = gguf_quant.make_gguf_variant(path, facts, "q4_0", cache, n_eval=64)
    art = Path(v["path"])
    p = prepare(_job(art.name), str(art.parent))
    try:
        e = p.extra
        assert e["prompt_tokens"] == 32 and e["new_tokens"] == 16 and e["generations"] == 2
        assert e["ttft_s"] > 0 and e["decode_tok_per_s"] > 0 and e["prefill_tok_per_s"] > 0
        assert "no tokenization" in e["ttft_window"] and "argmax" in e["decode_window"]
        assert "one decode step" in p.timed_window and "position 32" in p.timed_window
        assert e["model_n_params"] == facts["n_params"] and "Q4_0" in e["model_desc"]
        assert "threadpool" in e["threadpool"]
        for _ in range(50):  # the engine-timed step: the same position every call, no cache overflow
            p.fn()
    finally:
        assert p.teardown is not None
        p.teardown()


def test_unknown_architecture_is_unsupported_with_the_reason(tmp_path: Path, cache: Path) -> None:
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(tmp_path / "alien.gguf"), "benchbench-alien")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tensor("alien.weight", np.ones((4, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    suite = gguf_jobs.byo_suite(tmp_path / "alien.gguf", [], [], None, None)
    job, = gguf_jobs.expand(suite.jobs[0], 0, _ctx(suite, BYO_FLAGS, cache))
    assert job.precheck_status == "unsupported" and "benchbench-alien" in str(job.precheck_failure)
    assert "unknown model architecture" in str(job.precheck_failure)
    with pytest.raises(Unsupported, match="unknown model architecture"):  # and on a board that decides itself
        prepare(_job("alien.gguf"), str(tmp_path))


def test_board_without_llama_cpp_python_or_llama_bench_is_unsupported_with_the_hint(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['llama_cpp'] = None\n"  # this board's Python has no llama-cpp-python
            "from benchbench.agent.backends import Unsupported, prepare\n"
            "from benchbench.agent.protocol import JobSpec, TimingPlan\n"
            "job = JobSpec(job_key='k', workload='llm-gguf', backend='llama.cpp', precision='f16',"
            " artifact='m.gguf', params={}, timing=TimingPlan())\n"
            "try:\n    prepare(job, '.')\nexcept Unsupported as e:\n    print('UNSUPPORTED', e)\n")
    env = {k: v for k, v in os.environ.items() if k != llamabench.ENV_VAR}
    env["PATH"] = "/usr/bin:/bin"  # no llama-bench
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("UNSUPPORTED") and "pip install 'llama-cpp-python" in out and "llama-bench" in out
