"""``slowfast``: training-free slow-fast token allocation (SlowFast-LLaVA).

SlowFast-LLaVA (Xu et al., 2024) feeds a video LLM two streams: a *slow* pathway of a few
frames with fine spatial tokens and a *fast* pathway covering all frames with aggressively
pooled tokens. Tokens here keep a single position each, so a frame is either slow (fine
grid) or fast (coarse grid):

- ``num_slow_frames`` frames spread uniformly over the video are slow (``slow_frames=
  "uniqueness"``, VidCom2's frame uniqueness: the most unique frames are slow instead, so a
  short event gets a fine grid wherever it falls);
- the fast frames share ``fast_share`` of the budget, at most ``fast_tokens_per_frame``
  tokens each (at least 1);
- the slow frames split what is left evenly.

Both pathways are average pooling (``pool``'s bins), so sizes add up. When the budget is too
small for slow frames to get more tokens than fast ones, every frame is pooled evenly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.compressors._ops import frame_layout, frame_uniqueness, pool_tokens
from videopipe.compressors.pool import pool_to_budget
from videopipe.types import VisualTokens
from videopipe.validate import choice, in_range, positive

SLOW_FRAMES = ("uniform", "uniqueness")


@dataclass(frozen=True)
class SlowFastConfig:
    """num_slow_frames: frames that keep fine tokens. fast_share: fraction of the budget for
    the fast frames. fast_tokens_per_frame: cap on a fast frame's tokens (4x4 grid).
    default_keep: fraction of tokens kept as an earlier chain stage (no budget of its own).
    slow_frames: which frames are slow: "uniform" (spread over time) or "uniqueness" (the
    most unique frames, VidCom2)."""

    num_slow_frames: int = 8
    fast_share: float = 0.4
    fast_tokens_per_frame: int = 16
    default_keep: float = 0.25
    slow_frames: str = "uniform"

    def __post_init__(self) -> None:
        choice("slowfast.slow_frames", self.slow_frames, SLOW_FRAMES)
        positive("slowfast.num_slow_frames", self.num_slow_frames)
        positive("slowfast.fast_tokens_per_frame", self.fast_tokens_per_frame)
        in_range("slowfast.fast_share", self.fast_share, 0.0, 1.0)
        in_range("slowfast.default_keep", self.default_keep, 1e-6, 1.0)


def slow_frames(num_frames: int, num_slow: int, device: torch.device) -> torch.Tensor:
    """Ranks of ``num_slow`` frames spread uniformly over ``num_frames`` (centre of each span)."""
    i = torch.arange(num_slow, device=device, dtype=torch.float64)
    return torch.floor((i + 0.5) * num_frames / num_slow).long()


class SlowFast(BaseCompressor[SlowFastConfig]):
    name = "slowfast"

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        cfg = self.config
        layout = frame_layout(tokens)
        f = layout.num_frames
        n_slow = min(cfg.num_slow_frames, f)
        n_fast = f - n_slow
        if n_fast == 0 or budget < f:
            return pool_to_budget(tokens, budget)
        k_fast = max(1, min(cfg.fast_tokens_per_frame, math.floor(budget * cfg.fast_share / n_fast)))
        k_slow = (budget - n_fast * k_fast) // n_slow
        if k_slow <= k_fast:
            return pool_to_budget(tokens, budget)
        k = torch.full((f,), k_fast, dtype=torch.long, device=tokens.device)
        if cfg.slow_frames == "uniqueness":
            u = frame_uniqueness(tokens, layout)
            slow = torch.sort(torch.sort(-u, stable=True).indices[:n_slow]).values
        else:
            slow = slow_frames(f, n_slow, tokens.device)
        k[slow] = k_slow
        return pool_tokens(tokens, k, layout)

    def default_budget(self, tokens: VisualTokens) -> int:
        return max(1, math.ceil(len(tokens) * self.config.default_keep))
