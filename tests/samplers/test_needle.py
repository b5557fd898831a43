"""keyclip and query on a 30-minute video with a 10 s red needle: the needle is always in the
selection and the visual tokens stay within the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.samplers.conftest import NEEDLE_FRAMES
from videopipe.decode import open_video
from videopipe.registry import EMBEDDERS, SAMPLERS
from videopipe.testing.videos import read_frame_number
from videopipe.types import Budget

BUDGETS = [
    Budget(num_frames=32, max_tokens=3000, size_px=224),  # tokens bind: keyclip shrinks frames
    Budget(num_frames=8, size_px=448),  # frames bind
    Budget(num_frames=64, max_tokens=900, size_px=224),
]


@pytest.fixture(scope="module")
def needle_reader(needle_video: Path):
    with open_video(needle_video) as r:
        yield r


@pytest.mark.parametrize("name", ["keyclip", "query"])
@pytest.mark.parametrize("budget", BUDGETS, ids=["tokens", "frames", "tight"])
def test_needle_always_selected_within_budget(needle_reader, name: str, budget: Budget) -> None:
    emb = EMBEDDERS.create("color")
    sel = SAMPLERS.create(name, embed_px=64)(
        needle_reader, budget, query="when is the screen red?", embedder=emb
    )
    info = needle_reader.info
    full = budget.frame_size(info.height, info.width)
    hits = set(sel.indices) & set(NEEDLE_FRAMES)
    assert hits, f"{name} missed the needle: {sel.indices}"
    if budget.max_tokens is not None:
        assert sel.tokens(budget, full) <= budget.max_tokens
    assert sel.num_frames <= (budget.num_frames or 10**9)
    assert sel.meta["mode"] == "query"
    # the selected needle frames really are red frames of the needle (read their frame codes)
    frames = needle_reader.frames_at(sorted(hits)[:3])
    for k, idx in enumerate(sorted(hits)[:3]):
        assert read_frame_number(frames.data[k].numpy()) == idx
        r, g, b = frames.data[k, -10:].float().mean(dim=(0, 1)).tolist()
        assert r > 150 and g < 80 and b < 80


def test_keyclip_trades_resolution_for_clip_length(needle_reader) -> None:
    emb = EMBEDDERS.create("color")
    q = "when is the screen red?"
    loose = SAMPLERS.create("keyclip", embed_px=64)(
        needle_reader, Budget(num_frames=32, size_px=224), query=q, embedder=emb
    )
    tight = SAMPLERS.create("keyclip", embed_px=64)(
        needle_reader, Budget(num_frames=32, max_tokens=1200, size_px=224), query=q, embedder=emb
    )
    full = Budget(size_px=224).frame_size(64, 96)
    assert all(c.size == full for c in loose.clips)  # no token limit: full size
    # a tight token budget keeps clips (several frames each) but at a smaller size
    assert max(len(c) for c in tight.clips) >= 2
    assert all(c.size is not None and c.size[0] * c.size[1] < full[0] * full[1] for c in tight.clips)
    assert tight.meta["tokens"] <= 1200 < loose.meta["tokens"]


def test_query_sampler_puts_most_frames_on_the_evidence(needle_reader) -> None:
    emb = EMBEDDERS.create("color")
    sel = SAMPLERS.create("query", embed_px=64)(
        needle_reader, Budget(num_frames=32, size_px=224), query="when is the screen red?", embedder=emb
    )
    on_needle = [i for i in sel.indices if NEEDLE_FRAMES.start - 20 <= i < NEEDLE_FRAMES.stop + 20]
    assert len(on_needle) >= 16  # most of the budget around the evidence...
    assert min(sel.indices) < 900 and max(sel.indices) > 2700  # ...and the whole video still covered
