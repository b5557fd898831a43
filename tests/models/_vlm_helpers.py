"""Helpers of the model tests: frames at the tiny models' sizes, and transformers' own path
(processor + model forward) for the same frames, the reference the adapters are checked against."""

from __future__ import annotations

from typing import Any

import torch

from videopipe.testing.tiny_models import TINY_FRAME_PX
from videopipe.types import Frames


def make_frames(family: str, n: int = 6, *, fps: float = 2.0, seed: int = 0) -> Frames:
    """``n`` random frames at the tiny model's size, at times index / fps."""
    return random_frames(TINY_FRAME_PX[family], n, fps=fps, seed=seed)


def random_frames(px: int, n: int, *, fps: float = 2.0, seed: int = 0) -> Frames:
    """``n`` random ``px`` x ``px`` frames (seeded), at times index / fps."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, px, px, 3), dtype=torch.uint8, generator=g)
    idx = torch.arange(n)
    return Frames(data=data, pts_s=idx / fps, indices=idx)


def native_inputs(adapter: Any, frames: Frames, text: str, *, fps: float = 2.0) -> dict[str, Any]:
    from transformers.video_utils import VideoMetadata

    n = len(frames)
    md = VideoMetadata(
        total_num_frames=n,
        fps=fps,
        frames_indices=frames.indices.tolist(),
        width=frames.width,
        height=frames.height,
        duration=n / fps,
    )
    return adapter.processor(
        text=[text],
        videos=[frames.data.permute(0, 3, 1, 2)],
        video_metadata=[md],
        return_tensors="pt",
        do_sample_frames=False,
    )


def native_positions(adapter: Any, inputs: dict[str, Any]) -> torch.Tensor:
    """[P, L] position ids transformers uses for the native prompt."""
    ids = inputs["input_ids"]
    if "mm_token_type_ids" in inputs:  # Qwen M-RoPE
        kw = {"second_per_grid_ts": inputs["second_per_grid_ts"]} if "second_per_grid_ts" in inputs else {}
        pos, _ = adapter.model.model.get_rope_index(
            ids, mm_token_type_ids=inputs["mm_token_type_ids"], video_grid_thw=inputs["video_grid_thw"], **kw
        )
        return pos[:, 0]
    return torch.arange(ids.shape[1]).unsqueeze(0)
