"""The proof that the splice and the position ids are right: with no compression, our
``inputs_embeds`` + position-ids path gives the logits of transformers' own processor +
forward path, for every family; and greedy decoding matches ``model.generate``."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames, native_inputs, native_positions

QUESTION = "What happens in this video?"


@pytest.mark.parametrize("n_frames", [6, 5])
def test_identity_logits_equal_native(adapters: dict[str, Any], family: str, n_frames: int) -> None:
    ad = adapters[family]
    frames = make_frames(family, n_frames)
    tokens = ad.encode(frames, duration_s=n_frames / 2.0)
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens))
    with torch.inference_mode():
        ref = ad.model(**native).logits[0].float()
    ours = ad.forward_logits(tokens, QUESTION)
    assert ours.shape == ref.shape
    assert float((ours - ref).abs().max()) <= 1e-4


def test_identity_prompt_and_positions_equal_native(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 6)
    tokens = ad.encode(frames, duration_s=3.0)
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens))
    spliced = ad.build_inputs(tokens, QUESTION)
    assert torch.equal(spliced.input_ids, native["input_ids"][0])
    assert torch.equal(spliced.position_ids[:, 0], native_positions(ad, native))
    n_extra = 1 if family == "llava_onevision" else 0  # LLaVA's trailing image_newline
    assert spliced.num_visual_tokens == len(tokens) + n_extra


def test_greedy_generation_equals_transformers_generate(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 4)
    tokens = ad.encode(frames, duration_s=2.0)
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens))
    with torch.inference_mode():
        out = ad.model.generate(**native, max_new_tokens=6, do_sample=False)
    new = out[0, native["input_ids"].shape[1] :]
    expected = ad.tokenizer.decode(new, skip_special_tokens=True).strip()
    assert ad.generate(tokens, QUESTION, max_new_tokens=6) == expected


def test_encode_tokens_carry_frame_time_and_grid(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 4)
    tokens = ad.encode(frames)
    h, w = tokens.layout.unit_grid_hw[0]
    per_unit = 2 if family.startswith("qwen") else 1  # Qwen: two frames per temporal patch
    assert len(tokens) == (4 // per_unit) * h * w
    assert tokens.is_ordered()
    assert (
        tokens.features.dtype == ad.dtype
        and tokens.features.shape[1] == ad.model.config.get_text_config().hidden_size
    )
    assert set(tokens.frame_idx.tolist()) == set(frames.indices.tolist()[::per_unit])
    assert int(tokens.row.max()) == h - 1 and int(tokens.col.max()) == w - 1
    # the token time is the (mean) time of its frame(s)
    expect_t = frames.pts_s.view(-1, per_unit).mean(1)
    assert torch.allclose(torch.unique(tokens.time_s), expect_t.double())
    if family == "qwen3_vl":
        assert tokens.extras["deepstack"].shape[:2] == (len(tokens), 1)
    assert tokens.layout.family == family


def test_encoded_tokens_can_be_modified_in_place(adapters: dict[str, Any]) -> None:
    """encode() runs under inference mode but hands out ordinary tensors (compressors may
    normalise features in place)."""
    tokens = adapters["qwen3_vl"].encode(make_frames("qwen3_vl", 2))
    assert not tokens.features.is_inference() and not tokens.extras["deepstack"].is_inference()
    tokens.features.mul_(2.0)
    tokens.row.add_(0)


def test_qwen3_video_pixel_limit_applies_to_the_whole_clip(adapters: dict[str, Any]) -> None:
    """Qwen3-VL's processor limits the pixels of a whole video; 20 frames exceed the tiny
    processor's limit, so frames are downscaled exactly as transformers does, even though
    the vision tower runs in batches of 4 frames."""
    ad = adapters["qwen3_vl"]
    frames = make_frames("qwen3_vl", 20)
    tokens = ad.encode(frames)
    assert tokens.layout.unit_grid_hw[0] == (1, 1)  # 64 px frames were scaled to 32 px
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens))
    with torch.inference_mode():
        ref = ad.model(**native).logits[0].float()
    assert float((ad.forward_logits(tokens, QUESTION) - ref).abs().max()) <= 1e-4
