from __future__ import annotations

from pathlib import Path

import pytest

from benchbench.workloads.artifacts import ModelArtifact
from benchbench.workloads.models import build_reference

TINY_CNN = {"width": 0.35, "resolution": 64, "num_classes": 100}
TINY_LLM = {"vocab": 512, "hidden": 64, "layers": 2, "heads": 4, "ffn": 128, "seq_len": 16, "max_len": 32}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bbcache")


@pytest.fixture(scope="session")
def tiny_cnn(cache_dir: Path) -> ModelArtifact:
    return build_reference("mobilenetv2", TINY_CNN, cache_dir)


@pytest.fixture(scope="session")
def tiny_llm(cache_dir: Path) -> ModelArtifact:
    return build_reference("decoder", TINY_LLM, cache_dir)


@pytest.fixture(scope="session")
def llm_params() -> dict[str, int]:
    return dict(TINY_LLM)
