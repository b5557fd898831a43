"""Compressed tokens: the prompt has one placeholder per kept token, every kept token keeps
the position id it has in transformers' uncompressed prompt, and generation runs."""

from __future__ import annotations

from typing import Any

import torch
from _vlm_helpers import make_frames, native_inputs, native_positions

QUESTION = "Describe the scene."


def _kept_native_positions(ad: Any, tokens: Any, kept: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions we pass at the visual tokens, native positions of the same original tokens)."""
    layout = tokens.layout
    native = native_inputs(ad, _frames_of(ad), ad.chat_text(QUESTION, tokens))
    full_pos = native_positions(ad, native)
    slots = (native["input_ids"][0] == ad._placeholder_id).nonzero().squeeze(1)
    h, w = layout.unit_grid_hw[0]  # one clip: the same grid for every unit
    unit = torch.tensor([layout.unit_frame_idx.index(int(f)) for f in kept.frame_idx])
    orig = slots[(unit * h + kept.row) * w + kept.col]
    spliced = ad.build_inputs(kept, QUESTION)
    vis = spliced.visual_mask.clone()
    if ad.family == "llava_onevision":  # the trailing image_newline is not a VisualToken
        vis[vis.nonzero()[-1]] = False
    return spliced.position_ids[:, 0][:, vis], full_pos[:, orig]


_FRAMES: dict[str, Any] = {}


def _frames_of(ad: Any) -> Any:
    return _FRAMES[ad.family]


def test_random_subset_keeps_original_positions(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 6, seed=1)
    _FRAMES[family] = frames
    tokens = ad.encode(frames, duration_s=3.0)
    g = torch.Generator().manual_seed(3)
    keep = torch.randperm(len(tokens), generator=g)[: max(2, len(tokens) // 3)]
    kept = tokens.select(keep)
    ours, native = _kept_native_positions(ad, tokens, kept)
    assert ours.shape[1] == len(kept)
    assert torch.equal(ours, native)
    spliced = ad.build_inputs(kept, QUESTION)
    n_extra = 1 if family == "llava_onevision" else 0
    assert spliced.num_visual_tokens == len(kept) + n_extra
    assert int((spliced.input_ids == ad._placeholder_id).sum()) == len(kept) + n_extra
    assert spliced.inputs_embeds.shape[1] == spliced.full_length - (len(tokens) - len(kept))
    # the spliced rows are the kept features, in order
    rows = spliced.inputs_embeds[0, spliced.visual_mask][: len(kept)]
    assert torch.equal(rows, kept.features.to(rows.dtype))
    answer = ad.generate(kept, QUESTION, max_new_tokens=4)
    assert isinstance(answer, str)


def test_merged_tokens_take_their_representative_position(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 4, seed=2)
    _FRAMES[family] = frames
    tokens = ad.encode(frames, duration_s=2.0)
    n = len(tokens)
    group = torch.arange(n) // 2  # merge neighbours pairwise
    rep = torch.arange(0, n, 2)
    merged = tokens.merge(group, rep)
    assert len(merged) == n // 2
    ours, native = _kept_native_positions(ad, tokens, merged)
    assert torch.equal(ours, native)
    if family == "qwen3_vl":  # deepstack features are merged along with the tokens
        assert merged.extras["deepstack"].shape[0] == len(merged)
    logits = ad.forward_logits(merged, QUESTION)
    assert torch.isfinite(logits).all()


def test_compression_changes_the_answer_path_not_the_text_positions(
    adapters: dict[str, Any], family: str
) -> None:
    """Text after the video keeps its uncompressed positions, so the first generated token's
    position is the same with and without compression."""
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4, seed=4), duration_s=2.0)
    full = ad.build_inputs(tokens, QUESTION)
    part = ad.build_inputs(tokens.select(torch.arange(0, len(tokens), 3)), QUESTION)
    assert part.next_position == full.next_position
    assert torch.equal(part.position_ids[..., -5:], full.position_ids[..., -5:])
    assert part.inputs_embeds.shape[1] < full.inputs_embeds.shape[1]


def test_sampling_is_seeded(adapters: dict[str, Any]) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    a = ad.generate(tokens, QUESTION, max_new_tokens=5, do_sample=True, temperature=1.5, top_k=50, seed=7)
    b = ad.generate(tokens, QUESTION, max_new_tokens=5, do_sample=True, temperature=1.5, top_k=50, seed=7)
    assert a == b


def test_float32_tokens_from_a_compressor_splice_into_any_model(adapters: dict[str, Any]) -> None:
    """Compressors may return float32 features (e.g. after averaging); they are cast to the
    model's dtype, and LLaVA's newline token joins them."""
    ad = adapters["llava_onevision"]
    tokens = ad.encode(make_frames("llava_onevision", 2))
    from dataclasses import replace

    as64 = replace(tokens, features=tokens.features.double())
    assert torch.equal(ad.forward_logits(as64, QUESTION), ad.forward_logits(tokens, QUESTION))
