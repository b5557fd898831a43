"""``VideoLLM.generate_stream``: the answer piece by piece. The adapters stream through
transformers' ``TextIteratorStreamer`` and their pieces join to ``generate``'s text; the
protocol's default yields ``generate``'s answer whole and refuses to sample."""

from __future__ import annotations

from typing import Any

import pytest

from tests.models._vlm_helpers import make_frames
from videopipe.errors import InputError
from videopipe.testing.fake_model import FakeVideoLLM

QUESTION = "What happens in the video?"


def test_adapter_stream_joins_to_generate(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4))
    whole = ad.generate(tokens, QUESTION, max_new_tokens=24)
    pieces = list(ad.generate_stream(tokens, QUESTION, max_new_tokens=24))
    assert "".join(pieces) == whole
    assert all(pieces) and pieces[0] == pieces[0].lstrip()
    assert ad.can_sample


def test_adapter_stream_samples_and_stops_when_closed(adapters: dict[str, Any]) -> None:
    ad = adapters["qwen2_5_vl"]
    tokens = ad.encode(make_frames("qwen2_5_vl", 4))
    hot = [
        "".join(ad.generate_stream(tokens, QUESTION, max_new_tokens=16, temperature=5.0)) for _ in range(4)
    ]
    assert len(set(hot)) > 1  # sampling at a high temperature varies
    it = ad.generate_stream(tokens, QUESTION, max_new_tokens=64)
    next(it, None)
    it.close()  # no error: the token loop is closed with it
    with pytest.raises(InputError, match="temperature"):
        list(ad.generate_stream(tokens, QUESTION, temperature=-1))


def test_default_stream_is_generate_in_one_piece() -> None:
    from videopipe.decode import open_video
    from videopipe.testing.videos import make_video, scenes_video

    model = FakeVideoLLM()
    with open_video(make_video(scenes_video((10,), needle=(0, "red"), width=56, height=56))) as r:
        tokens = model.encode(r.frames_at([0, 5]))
    assert list(model.generate_stream(tokens, "Which colour?")) == [model.generate(tokens, "Which colour?")]
    assert not model.can_sample
    with pytest.raises(InputError, match="greedily"):
        list(model.generate_stream(tokens, "Which colour?", temperature=0.7))
