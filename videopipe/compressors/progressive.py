"""``progressive``: PVC-style training-free progressive compression.

PVC (Yang et al., "PVC: Progressive Visual Token Compression for Unified Image and Video
Processing", 2024) gives the first frame of a clip its full per-frame token budget and lets
every later frame add only what is new relative to what the model has already seen. This
training-free version:

1. average-pools every frame to at most ``per_frame_budget`` tokens (64 by default, as PVC;
   0: no pooling). With ``frame_budget="uniqueness"`` (VidCom2: per-frame budgets from frame
   uniqueness) the frames share ``per_frame_budget`` x frames unevenly instead: a frame's
   share is softmax(uniqueness / ``uniqueness_temperature``), so frames unlike the rest of
   the video keep finer grids before the novelty walk;
2. keeps all tokens of the first frame (the first "key frame");
3. walks forward in time (one batched similarity per frame): a token of frame t whose best
   cosine match among the tokens kept so far is below ``threshold`` is *novel* and kept;
   the others fold into their best match (size-weighted mean, sizes add up, the match keeps
   its position). A frame in which at least ``refresh_fraction`` of the tokens are novel
   (a scene cut) is kept whole, i.e. starts a new clip;
   With ``memory_frames`` = W, the tokens compared against are only those kept or matched
   within the last W frames (a least-recently-used memory): a surface still in view stays in
   memory however old, a surface not seen for W frames is forgotten and costs tokens again if
   it comes back. This bounds the cost per frame on very long videos (the unbounded memory
   makes the walk O(frames x kept tokens)).
4. if more tokens were kept than the budget allows, the least novel ones (1 - best-match
   similarity at the time they were seen) fold into their matches until the budget holds;
   if fewer, the most novel folded tokens are kept as well up to the budget
   (``fill_budget``; off: the output size is set by the content alone).

So a static video costs about one frame's tokens and a changing one keeps its changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.compressors._ops import (
    frame_budgets,
    frame_layout,
    merge_by_parent,
    pool_tokens,
    unit_features,
)
from videopipe.compressors.pool import FRAME_BUDGETS
from videopipe.errors import ConfigError
from videopipe.types import VisualTokens
from videopipe.validate import choice, in_range, positive


@dataclass(frozen=True)
class ProgressiveConfig:
    """per_frame_budget: most tokens a frame may keep (frames are pooled down to it; 0:
    frames keep their native grid and only novelty decides).
    threshold: a token is novel when its best cosine match among kept tokens is below this.
    refresh_fraction: a frame with at least this fraction of novel tokens is kept whole.
    fill_budget: when the novel tokens leave part of the budget unused, also keep the most
    novel of the folded tokens up to the budget (False: static video costs one frame).
    memory_frames: compare against tokens kept or matched in the last this-many frames only
    (None: every kept token; bounds the work per frame on very long videos).
    frame_budget: how the pooling budget is split over frames: "even" (``per_frame_budget``
    each) or "uniqueness" (VidCom2; needs ``per_frame_budget`` > 0).
    uniqueness_temperature: softmax temperature of the uniqueness split (lower: more uneven)."""

    per_frame_budget: int = 64
    threshold: float = 0.9
    refresh_fraction: float = 0.5
    fill_budget: bool = True
    memory_frames: int | None = None
    frame_budget: str = "even"
    uniqueness_temperature: float = 0.05

    def __post_init__(self) -> None:
        positive("progressive.per_frame_budget", self.per_frame_budget, allow_zero=True)
        choice("progressive.frame_budget", self.frame_budget, FRAME_BUDGETS)
        positive("progressive.uniqueness_temperature", self.uniqueness_temperature)
        if self.frame_budget == "uniqueness" and self.per_frame_budget == 0:
            raise ConfigError(
                "progressive: frame_budget='uniqueness' splits the pooling budget over frames, so it "
                "needs per_frame_budget > 0 (with 0 nothing is pooled)"
            )
        in_range("progressive.threshold", self.threshold, -1.0, 1.0)
        in_range("progressive.refresh_fraction", self.refresh_fraction, 0.0, 1.0)
        if self.memory_frames is not None:
            positive("progressive.memory_frames", self.memory_frames)


class Progressive(BaseCompressor[ProgressiveConfig]):
    name = "progressive"

    def _scan(
        self, tokens: VisualTokens, per_frame: int, first_max: int | None = None
    ) -> tuple[VisualTokens, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pool, then walk frames: (pooled tokens, kept [N], parent [N], novelty [N], frame_of [N])."""
        layout = frame_layout(tokens)
        f = layout.num_frames
        cfg = self.config
        if cfg.frame_budget == "uniqueness" and per_frame * f < len(tokens):
            total = per_frame * f
            k = frame_budgets(tokens, layout, total, "uniqueness", cfg.uniqueness_temperature)
            if first_max is not None:  # the first frame is kept whole: it must fit the budget
                k[0] = min(int(k[0]), first_max)
        else:
            k = torch.full((f,), per_frame, dtype=torch.long, device=tokens.device)
        pooled = pool_tokens(tokens, k, layout)
        layout = frame_layout(pooled)
        n, dev = len(pooled), pooled.device
        x = unit_features(pooled)
        kept = torch.zeros(n, dtype=torch.bool, device=dev)
        parent = torch.arange(n, device=dev)
        novelty = torch.full((n,), float("inf"), dtype=x.dtype, device=dev)
        first = int(layout.counts[0])
        kept[:first] = True
        # kept tokens so far: their indices and (contiguous) features, appended frame by frame
        mem_idx = torch.empty(n, dtype=torch.long, device=dev)
        mem_x = torch.empty_like(x)
        mem_idx[:first] = torch.arange(first, device=dev)
        mem_x[:first] = x[:first]
        last_used = torch.zeros(n, dtype=torch.long, device=dev)  # per memory slot: frame last kept/matched
        k = first
        window = cfg.memory_frames
        for t in range(1, layout.num_frames):
            if window is not None and k and int(last_used[:k].min()) < t - window:
                live = torch.nonzero(last_used[:k] >= t - window).squeeze(1)  # forget, keep order
                k = live.numel()
                mem_idx[:k], mem_x[:k], last_used[:k] = mem_idx[live], mem_x[live], last_used[live]
            s = int(layout.offsets[t])
            e = s + int(layout.counts[t])
            if k:
                v, j = (x[s:e] @ mem_x[:k].T).max(1)
                parent[s:e] = mem_idx[j]
                last_used[j] = t
            else:  # everything was forgotten: the whole frame is new
                v = torch.full((e - s,), -float("inf"), dtype=x.dtype, device=dev)
            novelty[s:e] = 1.0 - v
            novel = v < cfg.threshold
            if float(novel.float().mean()) >= cfg.refresh_fraction:
                novel = torch.ones_like(novel)
            new = torch.nonzero(novel).squeeze(1) + s
            kept[new] = True
            mem_idx[k : k + new.numel()] = new
            mem_x[k : k + new.numel()] = x[new]
            last_used[k : k + new.numel()] = t
            k += new.numel()
        return pooled, kept, parent, novelty, layout.frame_of

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        per_frame = min(self.config.per_frame_budget or len(tokens), budget)
        pooled, kept, parent, novelty, frame_of = self._scan(tokens, per_frame, budget)
        excess = int(kept.sum()) - budget
        if excess > 0:  # over budget: fold the least novel kept tokens
            droppable = kept & (frame_of > 0)
            score = torch.where(droppable, novelty, torch.full_like(novelty, float("inf")))
            kept[torch.sort(score, stable=True).indices[:excess]] = False
        elif excess < 0 and self.config.fill_budget:  # room left: keep the most novel folded ones
            score = torch.where(kept, torch.full_like(novelty, -float("inf")), novelty)
            extra = torch.sort(score, descending=True, stable=True).indices[
                : min(-excess, int((~kept).sum()))
            ]
            kept[extra] = True
        parent = torch.where(kept, torch.arange(len(pooled), device=pooled.device), parent)
        return merge_by_parent(pooled, parent)

    def default_budget(self, tokens: VisualTokens) -> int:
        _, kept, *_ = self._scan(tokens, self.config.per_frame_budget or len(tokens))
        return max(1, int(kept.sum()))
