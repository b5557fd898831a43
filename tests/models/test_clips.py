"""Several clips (possibly of different frame sizes, as key-clip sampling makes) in one
prompt: Qwen encodes each clip as its own video, equal to transformers with several videos;
the frame-per-image families give the same result as one clip of all frames."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames

from videopipe.types import Frames

QUESTION = "What changes between the clips?"


def _clip(n: int, h: int, w: int, start: int, seed: int, fps: float = 2.0) -> Frames:
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(start, start + n)
    return Frames(
        data=torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=g), pts_s=idx / fps, indices=idx
    )


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_qwen_clips_of_two_sizes_equal_native_two_videos(adapters: dict[str, Any], family: str) -> None:
    from transformers.video_utils import VideoMetadata

    ad = adapters[family]
    u = ad.token_px
    a, b = _clip(4, 2 * u, 2 * u, 0, 1), _clip(2, 2 * u, 3 * u, 10, 2)  # 2x2 and 2x3 token grids
    tokens = ad.encode([b, a])  # any order: clips are put in time order
    assert tokens.is_ordered() and len(tokens) == 2 * 4 + 1 * 6
    assert [c.grid_thw[1:] for c in tokens.layout.clips] == [(4, 4), (4, 6)]
    text = ad.chat_text(QUESTION, tokens)
    vs, ve = "<|vision_start|>", "<|vision_end|>"
    native_text = text.replace(ad.video_marker, f"{ad.video_marker}{ve}{vs}{ad.video_marker}")
    mds = [
        VideoMetadata(total_num_frames=len(c), fps=2.0, frames_indices=c.indices.tolist(), width=c.width,
                      height=c.height, duration=len(c) / 2.0)
        for c in (a, b)
    ]  # fmt: skip
    native = ad.processor(text=[native_text], videos=[a.data.permute(0, 3, 1, 2), b.data.permute(0, 3, 1, 2)],
                          video_metadata=mds, return_tensors="pt", do_sample_frames=False)  # fmt: skip
    with torch.inference_mode():
        ref = ad.model(**native).logits[0].float()
    spliced = ad.build_inputs(tokens, QUESTION)
    assert torch.equal(spliced.input_ids, native["input_ids"][0])
    assert float((ad.forward_logits(tokens, QUESTION) - ref).abs().max()) <= 1e-4
    # compressing across clips keeps working
    kept = tokens.select(torch.tensor([0, 5, 9, 13]))
    assert ad.build_inputs(kept, QUESTION).num_visual_tokens == 4
    assert isinstance(ad.generate(kept, QUESTION, max_new_tokens=3), str)


@pytest.mark.parametrize("family", ["llava_onevision", "smolvlm"])
def test_frame_models_clips_equal_one_clip(adapters: dict[str, Any], family: str) -> None:
    ad = adapters[family]
    frames = make_frames(family, 5)
    whole = ad.encode(frames, duration_s=5.0)
    parts = ad.encode([frames[torch.arange(3, 5)], frames[torch.arange(0, 3)]], duration_s=5.0)
    # the same frames through the vision tower in batches of another size: equal up to the
    # float rounding of the CPU's matmul kernels for that batch shape (bitwise equal on some
    # CPUs, a few ulps apart on others)
    torch.testing.assert_close(parts.features, whole.features, rtol=1e-5, atol=1e-5)
    assert torch.equal(parts.frame_idx, whole.frame_idx)
    torch.testing.assert_close(
        ad.forward_logits(parts, QUESTION), ad.forward_logits(whole, QUESTION), rtol=1e-4, atol=1e-4
    )


def test_clips_of_another_size_are_resized_by_frame_models(adapters: dict[str, Any]) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode([_clip(2, 56, 56, 0, 1), _clip(2, 56, 84, 4, 2)])
    assert len(tokens) == 4 * ad.tokens_per_frame(56, 56)
    assert torch.isfinite(ad.forward_logits(tokens, QUESTION)).all()


def test_clips_sharing_frames_are_refused(adapters: dict[str, Any]) -> None:
    from videopipe.errors import InputError

    frames = make_frames("llava_onevision", 3)
    with pytest.raises(InputError, match="share frames"):
        adapters["llava_onevision"].encode([frames, frames[torch.arange(1, 3)]])
