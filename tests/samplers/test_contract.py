"""The contract every registered sampler keeps (parametrized over the registry)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.samplers.fakes import FakeReader
from videopipe.decode import open_video
from videopipe.protocols import Sampler
from videopipe.registry import EMBEDDERS, SAMPLERS
from videopipe.types import Budget, Selection

NAMES = SAMPLERS.names()


def test_registry_has_the_five_samplers() -> None:
    assert set(NAMES) == {"uniform", "keyframe", "keyclip", "space_aware", "query"}
    assert all(e.summary for e in SAMPLERS.entries())


def _check(sel: Selection, n_video: int, budget: Budget, full: tuple[int, int], name: str) -> None:
    assert isinstance(sel, Selection) and sel.sampler == name
    idx, ts = sel.indices, sel.times_s
    assert idx, "a selection is never empty"
    assert idx == sorted(idx) and ts == sorted(ts)
    assert len(set(idx)) == len(idx)
    assert 0 <= min(idx) and max(idx) < n_video
    if budget.num_frames is not None:
        assert sel.num_frames <= budget.num_frames
    if budget.max_tokens is not None:
        assert sel.tokens(budget, full) <= budget.max_tokens
    assert sel.frames_decoded >= 0


def _run(name: str, reader, budget: Budget) -> Selection:
    sampler = SAMPLERS.create(name)
    assert isinstance(sampler, Sampler) and sampler.name == name
    return sampler(reader, budget, query="is the screen red?", embedder=EMBEDDERS.create("color"))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "budget",
    [
        Budget(num_frames=7, size_px=112),
        Budget(num_frames=40, max_tokens=700, size_px=112),
        Budget(num_frames=1),
    ],
    ids=["frames", "tokens", "one"],
)
def test_contract_on_a_real_video(name: str, budget: Budget, small_video: Path) -> None:
    with open_video(small_video) as r:
        sel = _run(name, r, budget)
        full = budget.frame_size(r.info.height, r.info.width)
        _check(sel, r.info.num_frames, budget, full, name)
        # the selection decodes: frames_at on its indices returns those frames at those times
        f = r.frames_at(sel.indices[:4], size=32)
        assert f.indices.tolist() == sel.indices[:4]
        assert np.allclose(f.pts_s.numpy(), sel.times_s[:4])


@pytest.mark.parametrize("name", NAMES)
def test_without_query_or_embedder(name: str) -> None:
    frames = np.random.default_rng(1).integers(0, 255, size=(300, 24, 32, 3), dtype=np.uint8)
    r = FakeReader(frames, fps=10, gop=25)
    sel = SAMPLERS.create(name)(r, Budget(num_frames=9, size_px=56))
    _check(sel, 300, Budget(num_frames=9, size_px=56), (56, 84), name)
    assert sel.num_frames >= 1


@pytest.mark.parametrize("name", NAMES)
def test_shorter_than_budget_returns_every_frame(name: str) -> None:
    r = FakeReader(np.zeros((12, 16, 16, 3), np.uint8), fps=5, gop=4)
    sel = _run(name, r, Budget(num_frames=20, size_px=32))
    assert sel.indices == list(range(12))
    assert sel.times_s == pytest.approx([i / 5 for i in range(12)])


@pytest.mark.parametrize("name", NAMES)
def test_one_frame_video(name: str, one_frame_video: Path) -> None:
    with open_video(one_frame_video) as r:
        assert r.info.num_frames == 1
        sel = _run(name, r, Budget(num_frames=4))
    assert sel.indices == [0] and sel.times_s == [0.0]


@pytest.mark.parametrize("name", ["keyclip", "query"])
def test_query_without_embedder_is_a_clear_error(name: str) -> None:
    from videopipe.errors import ConfigError

    r = FakeReader(np.zeros((100, 16, 16, 3), np.uint8), fps=5, gop=5)
    with pytest.raises(ConfigError, match="embedder"):
        SAMPLERS.create(name)(r, Budget(num_frames=4), query="red?")


def test_the_embedder_keyword_and_its_deprecated_old_name_pick_the_same_frames() -> None:
    from videopipe.errors import ConfigError

    rng = np.random.default_rng(0)
    reader = FakeReader(rng.integers(0, 255, (100, 16, 16, 3), dtype=np.uint8), fps=10, gop=25)
    sampler = SAMPLERS.create("query")
    budget = Budget(num_frames=4, size_px=64)
    emb = EMBEDDERS.create("color")
    new = sampler(reader, budget, query="is the screen red?", embedder=emb)
    with pytest.warns(DeprecationWarning, match="embedder="):
        old = sampler(reader, budget, query="is the screen red?", features=emb)
    assert new.indices == old.indices and new.indices
    with pytest.raises(ConfigError, match="embedder once"):
        sampler(reader, budget, query="q", embedder=emb, features=emb)


@pytest.mark.parametrize("name", ["uniform", "keyframe", "query"])
def test_samplers_refuse_unknown_options_like_compressors(name: str) -> None:
    from videopipe.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"{name}: unknown option\(s\) colour; valid options: "):
        SAMPLERS.create(name, colour="red")
