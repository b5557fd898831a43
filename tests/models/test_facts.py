"""Model facts (token geometry, id) read from a checkpoint's files equal the loaded adapter's,
without loading the weights: what lets a decode worker sample and decode without the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from videopipe.models.facts import model_facts, read_model_facts


def test_facts_from_files_equal_the_loaded_models(
    family: str, tiny_dirs: dict[str, Path], adapters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    def no_weights(*a: Any, **k: Any) -> None:
        raise AssertionError("read_model_facts loaded the weights")

    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained", no_weights)
    facts = read_model_facts(str(tiny_dirs[family]))
    loaded = model_facts(adapters[family])
    assert facts == loaded
    assert facts.model_id == str(tiny_dirs[family]) and facts.mixed_resolution
    assert facts.min_frames == (2 if family.startswith("qwen") else 1)
