"""``temporal_merge``: ToMe-style bipartite soft matching across adjacent frames, plus
B-VLLM-style whole-frame merging of near-duplicate frames.

- ToMe (Bolya et al., "Token Merging: Your ViT But Faster", ICLR 2023): split tokens in two
  sets, match each token of one set to its most similar token (cosine) of the other, merge
  the ``r`` most similar pairs by size-weighted averaging and track ``size``. Here the two
  sets are adjacent frames: every token of frame t is matched to its most similar token of
  frame t-1, and the ``r = len(tokens) - budget`` best pairs are merged. Matches only point
  backwards in time, so merges form chains (t -> t-1 -> t-2 ...) that are folded into their
  earliest token: exactly ``r`` tokens disappear and the merged token keeps the position of
  that earliest token.
- B-VLLM (Lu et al., 2024) drops/merges whole frames that repeat the previous one. A frame
  whose mean best-match similarity to the previous frame is >= ``frame_threshold`` has its
  pairs merged before any pair of a changing frame.

When the budget is below what temporal merging can reach (only the first frame's tokens
left), the result is average-pooled (``pool``) down to the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.compressors._ops import FrameLayout, frame_layout, merge_by_parent, padded, unit_features
from videopipe.compressors.pool import pool_to_budget
from videopipe.types import VisualTokens
from videopipe.validate import in_range


@dataclass(frozen=True)
class TemporalMergeConfig:
    """frame_threshold: mean cosine of a frame's tokens to their matches in the previous
    frame at or above which the frame is a near-duplicate (merged first, whole).
    pair_threshold: as an earlier chain stage (no budget of its own), merge every pair at
    least this similar."""

    frame_threshold: float = 0.95
    pair_threshold: float = 0.9

    def __post_init__(self) -> None:
        in_range("temporal_merge.frame_threshold", self.frame_threshold, -1.0, 1.0)
        in_range("temporal_merge.pair_threshold", self.pair_threshold, -1.0, 1.0)


def previous_frame_matches(
    tokens: VisualTokens, layout: FrameLayout, *, max_elems: int = 1 << 24
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each token, cosine similarity to its best match in the previous frame and that
    match's token index (-inf / -1 for first-frame tokens). Batched over frames in chunks."""
    n, f, m = len(tokens), layout.num_frames, layout.max_count
    x = unit_features(tokens)
    best = torch.full((n,), -float("inf"), dtype=x.dtype, device=x.device)
    match = torch.full((n,), -1, dtype=torch.long, device=x.device)
    if f < 2:
        return best, match
    chunk = max(1, max_elems // max(1, m * max(m, x.shape[1])))  # bounds [c,M,M] and [c,M,D]
    for s in range(1, f, chunk):
        e = min(f, s + chunk)
        xs, mask = padded(x, layout, s - 1, e)  # frames s-1..e-1
        sim = torch.bmm(xs[1:], xs[:-1].transpose(1, 2))  # [c, M, M]: frame t vs t-1
        sim = sim.masked_fill(~mask[:-1].unsqueeze(1), -float("inf"))
        v, j = sim.max(-1)  # [c, M]
        valid = mask[1:]
        rel, slot = torch.nonzero(valid, as_tuple=True)
        tok = layout.offsets[rel + s] + slot
        best[tok] = v[valid]
        match[tok] = layout.offsets[rel + s - 1] + j[valid]
    return best, match


class TemporalMerge(BaseCompressor[TemporalMergeConfig]):
    name = "temporal_merge"

    def _priorities(self, tokens: VisualTokens) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        layout = frame_layout(tokens)
        best, match = previous_frame_matches(tokens, layout)
        has = match >= 0
        frame_sim = torch.zeros(layout.num_frames, dtype=best.dtype, device=best.device)
        frame_sim.index_add_(0, layout.frame_of[has], best[has])
        frame_sim = frame_sim / layout.counts.clamp(min=1).to(best.dtype)
        dup = (frame_sim >= self.config.frame_threshold)[layout.frame_of] & has
        return best + 4.0 * dup.to(best.dtype), match, best

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        priority, match, _ = self._priorities(tokens)
        r = len(tokens) - budget
        order = torch.sort(priority, descending=True, stable=True).indices
        chosen = order[:r]
        chosen = chosen[match[chosen] >= 0]  # first-frame tokens have nothing to merge into
        parent = torch.arange(len(tokens), device=tokens.device)
        parent[chosen] = match[chosen]
        out = merge_by_parent(tokens, parent)
        return out if len(out) <= budget else pool_to_budget(out, budget)

    def default_budget(self, tokens: VisualTokens) -> int:
        priority, match, best = self._priorities(tokens)
        merged = ((best >= self.config.pair_threshold) | (priority > 2.0)) & (match >= 0)
        return max(1, len(tokens) - int(merged.sum()))
