"""``pool``: spatial average pooling of every frame to a smaller grid (the LLaVA-Video
baseline, which average-pools each frame's grid with stride 2).

The per-frame grid is chosen from the budget: with F frames each frame may keep
``budget // F`` tokens, and its grid is shrunk to the largest ``oh x ow`` within that keeping
the aspect ratio (adaptive average pooling: bins of near-equal size). When the budget is
smaller than the number of frames, consecutive frames are pooled together as well (one
spatio-temporal bin per token).

``frame_budget="uniqueness"`` (VidCom2, Liu et al., 2025: per-frame budgets from frame
uniqueness) splits the budget unevenly instead: a frame's share is softmax(uniqueness /
``uniqueness_temperature``), uniqueness = 1 - cosine of its mean token to the video's mean
token, so frames unlike the rest of the video (a short event) keep finer grids. A pooled token is the size-weighted mean of its bin and
keeps the (frame, row, col) of the bin member nearest the bin centre; ``size`` counts the
original tokens it stands for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.compressors._ops import frame_budgets, frame_layout, pool_groups, pool_tokens
from videopipe.types import VisualTokens
from videopipe.validate import choice, positive

FRAME_BUDGETS = ("even", "uniqueness")


@dataclass(frozen=True)
class PoolConfig:
    """stride: pooling stride used when ``pool`` runs without a budget of its own (as an
    earlier stage of a chain): each frame keeps about 1/stride^2 of its tokens.
    frame_budget: how the budget is split over frames: "even" or "uniqueness" (VidCom2).
    uniqueness_temperature: softmax temperature of the uniqueness split (lower: more uneven)."""

    stride: int = 2
    frame_budget: str = "even"
    uniqueness_temperature: float = 0.05

    def __post_init__(self) -> None:
        positive("pool.stride", self.stride)
        choice("pool.frame_budget", self.frame_budget, FRAME_BUDGETS)
        positive("pool.uniqueness_temperature", self.uniqueness_temperature)


def pool_to_budget(tokens: VisualTokens, budget: int) -> VisualTokens:
    """Average-pool ``tokens`` (ordered) to at most ``budget`` tokens, evenly over frames."""
    layout = frame_layout(tokens)
    f = layout.num_frames
    dev = tokens.device
    groups = min(f, budget)
    frame_group = torch.div(torch.arange(f, device=dev) * groups, f, rounding_mode="floor")
    k = torch.full((groups,), budget // groups, dtype=torch.long, device=dev)
    group, rep = pool_groups(tokens, layout, k, frame_group)
    return tokens.merge(group, rep)


class Pool(BaseCompressor[PoolConfig]):
    name = "pool"

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        layout = frame_layout(tokens)
        if self.config.frame_budget == "even" or budget < layout.num_frames:
            return pool_to_budget(tokens, budget)
        k = frame_budgets(tokens, layout, budget, "uniqueness", self.config.uniqueness_temperature)
        return pool_tokens(tokens, k, layout)

    def default_budget(self, tokens: VisualTokens) -> int:
        return max(1, math.ceil(len(tokens) / self.config.stride**2))
