"""Session fixtures: one tiny random checkpoint per family, saved and loaded back through
``videopipe.models.load_model``; small random frames at the tiny models' sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from videopipe.testing.tiny_models import FAMILIES, build_tiny_model


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-vlms")
    return {f: build_tiny_model(f, root / f) for f in FAMILIES}


@pytest.fixture(scope="session")
def adapters(tiny_dirs: dict[str, Path]) -> dict[str, Any]:
    from videopipe.models import load_model

    # float32: the parity tests compare with transformers' float32 path at 1e-4 (dtype "auto" is
    # bfloat16 on a CPU with native bf16)
    return {f: load_model(d, device="cpu", dtype="float32", frames_per_batch=4) for f, d in tiny_dirs.items()}


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return request.param
