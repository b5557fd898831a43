"""``static_prune``: drop the tokens that did not change since the previous frame (EVS family).

Efficient Video Sampling (EVS; Bagrov et al., NVIDIA 2025; shipped in vLLM for Qwen2.5-VL /
Qwen3-VL) prunes temporally static patches before the LLM and keeps the positions of the
others, so the model's M-RoPE positions stay those of the full video. Here, from the paper's
description:

- a token's *change* is ``1 - cos`` between it and the token at the same (row, col) of the
  previous frame. It is measured on the features the compressor receives (the vision tower's
  output), not on raw pixels: EVS also scores patches on the encoded video, and videopipe's
  compressors receive tokens, not frames (the pixels are gone by then). Tokens with no
  same-position token in the previous frame (the first frame, a frame of another grid, a
  position pruned by an earlier stage) count as fully changed;
- with a budget, the ``budget`` most changed tokens are kept (fully changed ones first, in
  time order); as an earlier chain stage (no budget of its own), every token whose similarity
  is below ``threshold`` is kept, so e.g. ``static_prune+segment_merge`` first drops the
  static background and then merges what is left;
- kept tokens keep their (frame, time, row, col); nothing is averaged, so this is pruning
  (sizes do not add up) unless ``fold_dropped``: then a dropped token folds into the token at
  its position in the previous frame (chains end at the kept one), and a dropped token whose
  chain ends at no kept token into its most similar kept token.

One similarity per token against one other token: O(N D), the cheapest method here. It sees
changes between *consecutive* frames only: a slow pan whose every step is small is pruned
to its first frame, which is what EVS does too; chain it after nothing else than a method
that handles motion if that matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videopipe.compressors._base import FoldablePruner
from videopipe.compressors._ops import cosine_chunks, frame_layout, same_position_previous, unit_features
from videopipe.types import VisualTokens
from videopipe.validate import in_range


@dataclass(frozen=True)
class StaticPruneConfig:
    """threshold: cosine to the same position of the previous frame at or above which a token
    is static (used as an earlier chain stage: keep every non-static token).
    fold_dropped: merge dropped tokens into the token they repeat (sizes add up)."""

    threshold: float = 0.95
    fold_dropped: bool = False

    def __post_init__(self) -> None:
        in_range("static_prune.threshold", self.threshold, -1.0, 1.0)


def change_scores(tokens: VisualTokens) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 - cosine to the same position in the previous frame [N], that token's index [N]);
    2.0 (more than any cosine change) and -1 where there is no such token."""
    layout = frame_layout(tokens)
    prev = same_position_previous(tokens, layout)
    x = unit_features(tokens)
    change = torch.full((len(tokens),), 2.0, dtype=x.dtype, device=x.device)
    has = prev >= 0
    change[has] = 1.0 - (x[has] * x[prev[has]]).sum(1)
    return change, prev


class StaticPrune(FoldablePruner[StaticPruneConfig]):
    name = "static_prune"

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        change, prev = change_scores(tokens)
        keep = torch.sort(-change, stable=True).indices[:budget]
        if not self.config.fold_dropped:
            return tokens.select(keep)
        return fold_into_kept(tokens, keep, prev)

    def default_budget(self, tokens: VisualTokens) -> int:
        change, _ = change_scores(tokens)
        return max(1, int((change > 1.0 - self.config.threshold).sum()))


def fold_into_kept(tokens: VisualTokens, keep: torch.Tensor, prev: torch.Tensor) -> VisualTokens:
    """Merge every token not in ``keep`` into the kept token its ``prev`` chain reaches (a
    token whose chain reaches none: into its most similar kept token)."""
    n, dev = len(tokens), tokens.device
    kept = torch.zeros(n, dtype=torch.bool, device=dev)
    kept[keep] = True
    idx = torch.arange(n, device=dev)
    parent = torch.where(kept | (prev < 0), idx, prev)
    for _ in range(64):  # pointer jumping: chains point back in time, log2(length) rounds
        nxt = parent[parent]
        if torch.equal(nxt, parent):
            break
        parent = nxt
    orphan = ~kept[parent]
    if bool(orphan.any()):
        x = unit_features(tokens)
        _, nearest = cosine_chunks(x[orphan], x[keep])
        parent[orphan] = keep[nearest]
    pos = torch.full((n,), -1, dtype=torch.long, device=dev)
    pos[keep] = torch.arange(keep.numel(), device=dev)
    return tokens.merge(pos[parent], keep)
