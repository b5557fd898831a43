"""The model contract's data: ``EncodedLayout`` is validated, joins clips, survives every
compressor unchanged and the token cache; a cache entry of another layout version is a miss
that the pipeline encodes again (it never reaches generate)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames

from videopipe.cache import TokenCache
from videopipe.compressors import build
from videopipe.errors import InputError
from videopipe.models.contract import LAYOUT_VERSION, ClipLayout, EncodedLayout, VideoLLM
from videopipe.registry import COMPRESSORS
from videopipe.testing.tokens import make_tokens
from videopipe.types import Clip, Selection


def _layout(frames: list[int], grid: tuple[int, int] = (2, 3), **kw: Any) -> EncodedLayout:
    h, w = grid
    return EncodedLayout(
        family="x",
        model_id="m",
        unit_frame_idx=frames,
        unit_time_s=[0.1 * f for f in frames],
        unit_grid_hw=[grid] * len(frames),
        frame_idx=frames,
        frame_time_s=[0.1 * f for f in frames],
        clips=[ClipLayout(frame_size_px=(h * 16, w * 16), num_tokens=len(frames) * h * w)],
        **kw,
    )


def test_layout_counts_and_validates() -> None:
    lay = _layout([0, 3, 6], padded_frames=1)
    assert lay.num_tokens == 18 and lay.num_frames == 3 and lay.unit_grid_hw[0] == (2, 3)
    with pytest.raises(ValueError, match="one of each per unit"):
        replace(lay, unit_time_s=(0.0,))
    with pytest.raises(ValueError, match="add up to"):
        replace(lay, clips=(ClipLayout(frame_size_px=(32, 48), num_tokens=5),))


def test_layout_concat_joins_clips_and_refuses_shared_frames_or_other_models() -> None:
    a, b = _layout([0, 3]), _layout([6], grid=(1, 1), padded_frames=1, duration_s=9.0)
    ab = EncodedLayout.concat([a, b])
    assert ab.unit_frame_idx == (0, 3, 6) and ab.unit_grid_hw == ((2, 3), (2, 3), (1, 1))
    assert len(ab.clips) == 2 and ab.num_tokens == 13 and ab.padded_frames == 1 and ab.duration_s == 9.0
    with pytest.raises(InputError, match="share frames"):
        EncodedLayout.concat([a, _layout([3])])
    with pytest.raises(InputError, match="encode every clip with the model that answers"):
        EncodedLayout.concat([a, replace(_layout([9]), model_id="other")])


def test_layout_round_trips_through_plain_data_and_checks_the_version() -> None:
    lay = _layout([0, 3], duration_s=4.0)
    data = lay.to_dict()
    assert data["version"] == LAYOUT_VERSION and EncodedLayout.from_dict(data) == lay
    with pytest.raises(ValueError, match="version"):
        EncodedLayout.from_dict({**data, "version": LAYOUT_VERSION + 1})


@pytest.mark.parametrize("name", COMPRESSORS.names())
def test_every_compressor_carries_the_layout_unchanged(name: str) -> None:
    tokens = make_tokens([(2, 3)] * 4, 8, seed=1)
    lay = _layout(sorted(set(tokens.frame_idx.tolist())))
    tokens = replace(tokens, layout=lay)
    query = torch.nn.functional.normalize(torch.randn(8, dtype=torch.float64), dim=0)
    budget = len(tokens) if name == "none" else 7  # "none" keeps every token
    out = build(name)(tokens, budget, query_embedding=query)
    assert out.layout is lay and len(out) <= budget


def test_visual_tokens_concat_joins_layouts() -> None:
    a = replace(make_tokens([(2, 3)], 4, seed=1), layout=_layout([0]))
    b = replace(make_tokens([(2, 3)], 4, seed=2).with_meta(), layout=_layout([5]))
    b = replace(b, frame_idx=torch.full_like(b.frame_idx, 5))
    joined = type(a).concat([a, b])
    assert joined.layout == EncodedLayout.concat([a.layout, b.layout])
    with pytest.raises(ValueError, match="some parts have a layout"):
        type(a).concat([a, replace(b, layout=None)])


def test_adapters_implement_the_protocol(adapters: dict[str, Any]) -> None:
    for ad in adapters.values():
        assert isinstance(ad, VideoLLM)
        assert ad.facts().model_id == ad.model_id and ad.facts().mixed_resolution


def _selection() -> Selection:
    return Selection((Clip(0.0, 0.5, (0, 1), (0.0, 0.5)),), sampler="uniform", frames_decoded=0)


def _set_stored_layout_version(cache: TokenCache, key: str, version: int) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from videopipe.cache import METADATA_KEY

    path = next(cache.root.rglob(f"{key}.safetensors"))
    with safe_open(path, framework="pt") as f:
        blob = json.loads(f.metadata()[METADATA_KEY])
    blob["layout_version"] = version
    save_file(load_file(path), path, metadata={METADATA_KEY: json.dumps(blob)})


def test_the_cache_keeps_the_layout_and_misses_on_another_version(
    adapters: dict[str, Any], tmp_path: Path
) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2), duration_s=1.0)
    cache = TokenCache(tmp_path)
    cache.save("ab" * 20, tokens, _selection())
    loaded, _ = cache.load("ab" * 20)
    assert loaded.layout == tokens.layout
    assert torch.equal(ad.forward_logits(loaded, "what?"), ad.forward_logits(tokens, "what?"))
    _set_stored_layout_version(cache, "ab" * 20, LAYOUT_VERSION - 1)
    assert cache.contains("ab" * 20) and cache.load("ab" * 20) is None


def test_a_stale_cache_entry_is_encoded_again_by_the_pipeline(tmp_path: Path) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.videos import make_video, scenes_video

    video = str(make_video(scenes_video((20, 20), needle=(1, "blue"), width=112, height=56, seed=5)))
    cfg = PipelineConfig(model="fake", num_frames=4, size_px=56, cache_dir=str(tmp_path))
    first = Pipeline(config=cfg).prepare(video)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    assert decoded.cached and decoded.cache_key is not None
    _set_stored_layout_version(TokenCache(tmp_path / "tokens"), decoded.cache_key, 0)
    pipe = Pipeline(config=cfg)
    again = pipe.prepare_from(decoded)
    assert not again.cached and again.frames_decoded == first.frames_decoded
    assert pipe.answer(again, "What colour is it?").text == "The screen is blue."
    assert Pipeline(config=cfg).prepare(video).cached  # the entry was written again
