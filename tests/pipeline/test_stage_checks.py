"""Stage objects given to the pipeline are checked with ``isinstance`` against their protocols
and refused with the members they lack; the CPU stage's result is one of two types."""

from __future__ import annotations

import pytest

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError
from videopipe.pipeline import CachedVideo, Decoded, DecodedVideo, Pipeline
from videopipe.protocols import Retriever, missing_members
from videopipe.testing.fake_model import FakeVideoLLM


class NoSearch:
    pass


class OnlySpace:
    space = "x"


def test_a_retriever_and_an_embedder_that_do_not_follow_their_protocols_are_refused() -> None:
    cfg = PipelineConfig(cache_tokens=False)
    with pytest.raises(ConfigError, match="retriever .* has no search"):
        Pipeline(FakeVideoLLM(), retriever=NoSearch(), config=cfg)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match="embedder .* has no dim, modality, model_id, embed_images, embed_texts"
    ):
        Pipeline(FakeVideoLLM(), embedder=OnlySpace(), config=cfg)  # type: ignore[arg-type]


def test_missing_members_lists_the_protocols_members_in_order() -> None:
    assert missing_members(NoSearch(), Retriever) == ["search"]
    assert missing_members(FakeVideoLLM(), Retriever) == ["search"]


def test_the_cpu_stage_result_is_one_of_two_types() -> None:
    assert CachedVideo.cached and not DecodedVideo.cached
    assert Decoded == CachedVideo | DecodedVideo
