"""Optional abilities are declared on the protocols with defaults (no getattr probing): a
plugin that subclasses a protocol gets them, one that follows it by hand must have them, and
the base classes refuse to be built without the one method a subclass must write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videopipe.compressors import build
from videopipe.compressors._base import BaseCompressor
from videopipe.compressors.chain import Chain
from videopipe.decode.reader import BaseReader
from videopipe.errors import ConfigError
from videopipe.pipeline import Pipeline
from videopipe.protocols import Compressor, Embedder
from videopipe.retrieval.encode import captioner_name
from videopipe.retrieval.resolve import embedder_name, resolve_embedder
from videopipe.samplers._base import BaseSampler
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.tokens import make_tokens


class KeepFirst(Compressor):
    """A third-party compressor: only a name and the call (keeps the first ``budget`` tokens)."""

    name = "keep_first"

    def __call__(self, tokens, budget, *, query_embedding=None):
        return tokens if len(tokens) <= budget else tokens.select(torch.arange(budget))


def test_a_compressor_subclassing_the_protocol_gets_the_defaults_and_chains() -> None:
    c = KeepFirst()
    vt = make_tokens([(4, 4)] * 6, 8)
    assert c.merges is False and c.default_budget(vt) == len(vt)
    chain = Chain([build("temporal_merge"), c])
    assert chain.merges is False  # one pruning stage: the chain prunes
    out = chain(vt, 10)
    assert len(out) == 10
    # as an earlier stage it keeps everything (its default budget), so the last stage decides
    out2 = Chain([c, build("pool")])(vt, 20)
    assert len(out2) <= 20 and torch.isclose(out2.size.sum(), vt.size.sum())


def test_a_hand_written_compressor_must_declare_the_abilities() -> None:
    class Bare:
        name = "bare"

        def __call__(self, tokens, budget, *, query_embedding=None):
            return tokens

    with pytest.raises(ConfigError, match="has no merges, default_budget"):
        Pipeline(FakeVideoLLM(), compressor=Bare())
    Pipeline(FakeVideoLLM(), compressor=KeepFirst())  # the subclass is accepted


class ConstantEmbedder(Embedder):
    space = "constant@1"
    dim = 4

    def embed_images(self, images):
        return torch.ones(len(images), 4) / 2

    def embed_texts(self, texts):
        return torch.ones(len(texts), 4) / 2


def test_an_embedder_subclassing_the_protocol_gets_modality_and_model_id() -> None:
    e = ConstantEmbedder()
    assert e.modality == "image" and e.model_id is None
    name, got = resolve_embedder(e)
    assert got is e and name == embedder_name(e) == f"{__name__}:ConstantEmbedder"


def test_an_object_without_the_embedder_abilities_is_refused_by_name() -> None:
    class Half:
        space = "half@1"
        dim = 4

        def embed_texts(self, texts):
            return torch.zeros(len(texts), 4)

    with pytest.raises(ConfigError, match="no modality, model_id"):
        resolve_embedder(Half())


def test_base_classes_refuse_a_subclass_without_its_method() -> None:
    class NoSelect(BaseSampler):
        name = "no_select"

    class NoCompress(BaseCompressor):
        name = "no_compress"
        config_cls = dict

    class NoDecode(BaseReader):
        backend_name = "no_decode"

    for cls, method in ((NoSelect, "select"), (NoCompress, "_compress"), (NoDecode, "_decode_sorted")):
        with pytest.raises(TypeError, match=method):
            cls() if cls is not NoDecode else cls(None, None)  # type: ignore[arg-type]


def test_captioners_are_named_by_their_name_or_qualified_name() -> None:
    class Named:
        name = "blip@2"

        def __call__(self, video: Path, spans: list) -> list[str]:
            return [""] * len(spans)

    class Anonymous:
        def __call__(self, video: Path, spans: list) -> list[str]:
            return [""] * len(spans)

    def describe(video: Path, spans: list) -> list[str]:
        return [""] * len(spans)

    assert captioner_name(Named()) == "blip@2"
    assert captioner_name(describe).endswith("describe")
    assert captioner_name(Anonymous()).endswith("Anonymous")
    assert captioner_name(None) == ""
    assert np.array_equal([captioner_name(Named())], ["blip@2"])
