"""``segment_merge``: dynamic temporal segments, a budget per segment, merging inside each
(FastVID / HoliTom family).

FastVID (Shen et al., 2025) splits the sampled frames into segments where consecutive frames
stop looking alike (dynamic segmentation, not fixed-length clips) and prunes inside each
segment with density-based clustering; HoliTom (Shao et al., 2025) segments globally, merges
tokens that repeat over time inside a segment, then merges the rest spatially by density-peaks
clustering. From those descriptions (no code of theirs), this method:

1. **segments**: the similarity of frame t to frame t-1 is the mean, over t's tokens, of the
   best cosine match in t-1 (robust to motion, like ``temporal_merge``'s matching). A segment
   starts where it is below ``segment_threshold``, and at the ``min_segments - 1`` lowest
   transitions if there are fewer cuts (FastVID's minimum segment count);
2. **budgets**: each segment gets a floor of one frame's worth of tokens (its first frame's
   count, at most its distinct tokens; scaled down together when the floors exceed the
   budget), the rest of the budget in proportion to its *distinct* tokens: those left after step 3 folds every similar pair (its first frame,
   plus whatever drifted or appeared later), never more than it has. A 2-second event between
   two long static shots is a segment of its own whose tokens are all distinct, so it keeps
   tokens instead of being merged into its neighbours; a static shot costs about one frame,
   a slow pan in proportion to how much new content it shows;
3. **temporal merging inside a segment** (HoliTom): a token whose best match in the previous
   frame of the same segment is at least ``pair_threshold`` similar folds into it (chains fold
   into the earliest token), most similar pairs first and only as many as the segment's
   budget needs. A chain only keeps a token whose cosine to the chain's root is also at least
   ``pair_threshold`` (else it starts a chain of its own), so slow motion does not smear one
   token over a whole shot;
4. **density peaks inside a segment** (FastVID / HoliTom): when the segment still has more
   tokens than its budget, they are clustered by DPC-kNN (density = closeness of the
   ``neighbours`` nearest tokens; centres = tokens both dense and far from any denser one,
   i.e. salient without attention) into exactly its budget; every token joins its most similar
   centre. Segments larger than ``max_cluster_tokens`` are clustered in consecutive chunks of
   frames (bounded O(chunk^2) memory), each with its share of the segment's budget.

Merging only: sizes add up, a merged token keeps the position of its earliest member (step
3) or of its centre (step 4), so positions stay real. Both papers also use the LLM's or the
vision tower's attention ([CLS] or text-to-visual) for saliency; that needs the model's
attention weights, which the adapters do not expose through a public hook (see
docs/compressors.md), so the saliency here is the density-peaks score alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.compressors._ops import (
    FrameLayout,
    allocate,
    density_peaks,
    frame_layout,
    unit_features,
)
from videopipe.compressors.temporal_merge import previous_frame_matches
from videopipe.types import VisualTokens
from videopipe.validate import in_range, positive


@dataclass(frozen=True)
class SegmentMergeConfig:
    """segment_threshold: mean best-match cosine of a frame to the previous one below which a
    new segment starts. min_segments: at least this many segments (cut at the least similar
    transitions). pair_threshold: cosine at or above which a token folds into its match in the
    previous frame of its segment (and into its chain's root). neighbours: k of the kNN density.
    max_cluster_tokens: largest token set clustered at once (memory ~ its square)."""

    segment_threshold: float = 0.9
    min_segments: int = 1
    pair_threshold: float = 0.98
    neighbours: int = 5
    density_share: float = 0.0
    max_cluster_tokens: int = 4096

    def __post_init__(self) -> None:
        in_range("segment_merge.segment_threshold", self.segment_threshold, -1.0, 1.0)
        in_range("segment_merge.pair_threshold", self.pair_threshold, -1.0, 1.0)
        positive("segment_merge.min_segments", self.min_segments)
        positive("segment_merge.neighbours", self.neighbours)
        in_range("segment_merge.density_share", self.density_share, 0.0, 1.0)
        positive("segment_merge.max_cluster_tokens", self.max_cluster_tokens)


@dataclass(frozen=True)
class _Plan:
    layout: FrameLayout
    x: torch.Tensor  # unit features [N, D]
    best: torch.Tensor  # best cosine to the previous frame [N]
    match: torch.Tensor  # that token [N] (-1: none or in another segment)
    seg: torch.Tensor  # segment of each token [N]
    num_segments: int
    novel: torch.Tensor  # bool [N]
    seg_first_frame: torch.Tensor  # each segment's first frame [S]


def segment_starts(
    frame_sim: torch.Tensor, threshold: float, min_segments: int, max_segments: int
) -> torch.Tensor:
    """bool [F]: frames that start a segment (frame 0 always). ``frame_sim[t]``: similarity of
    frame t to t-1 (frame 0's is ignored). Below ``threshold`` cuts; the lowest transitions cut
    until ``min_segments``; only the ``max_segments - 1`` lowest cuts are kept."""
    f = frame_sim.shape[0]
    starts = torch.zeros(f, dtype=torch.bool, device=frame_sim.device)
    if f == 0:
        return starts
    starts[0] = True
    if f == 1:
        return starts
    sims = frame_sim[1:]
    order = torch.sort(sims, stable=True).indices + 1  # least similar transitions first
    cuts = int((sims < threshold).sum())
    cuts = max(cuts, min(min_segments, f) - 1)
    cuts = min(cuts, max(0, max_segments - 1))
    starts[order[:cuts]] = True
    return starts


class SegmentMerge(BaseCompressor[SegmentMergeConfig]):
    name = "segment_merge"

    def _plan(self, tokens: VisualTokens, max_segments: int) -> _Plan:
        cfg = self.config
        layout = frame_layout(tokens)
        best, match = previous_frame_matches(tokens, layout)
        has = match >= 0
        f = layout.num_frames
        frame_sim = torch.zeros(f, dtype=best.dtype, device=best.device)
        frame_sim.index_add_(0, layout.frame_of[has], best[has])
        frame_sim = frame_sim / layout.counts.clamp(min=1).to(best.dtype)
        starts = segment_starts(frame_sim, cfg.segment_threshold, cfg.min_segments, max_segments)
        seg_of_frame = torch.cumsum(starts.long(), 0) - 1
        seg = seg_of_frame[layout.frame_of]
        inside = has & (seg[match.clamp(min=0)] == seg)
        match = torch.where(inside, match, torch.full_like(match, -1))
        best = torch.where(inside, best, torch.full_like(best, -float("inf")))
        novel = best < cfg.pair_threshold
        first = torch.nonzero(starts).squeeze(1)
        return _Plan(layout, unit_features(tokens), best, match, seg, int(first.numel()), novel, first)

    def _temporal_parents(self, plan: _Plan, merges: torch.Tensor) -> torch.Tensor:
        """Parents after folding, per segment, at most ``merges[s]`` of its most similar
        in-segment pairs (>= pair_threshold, to the pair and to the chain's root)."""
        n = plan.x.shape[0]
        dev = plan.x.device
        idx = torch.arange(n, device=dev)
        cand = ~plan.novel
        order = torch.sort(-plan.best, stable=True).indices
        order = order[torch.sort(plan.seg[order], stable=True).indices]  # by segment, best first
        seg_sorted = plan.seg[order]
        seg_first = torch.searchsorted(seg_sorted, torch.arange(plan.num_segments, device=dev))
        rank = torch.arange(n, device=dev) - seg_first[seg_sorted]
        chosen = order[(rank < merges[seg_sorted]) & cand[order]]
        parent = idx.clone()
        parent[chosen] = plan.match[chosen]
        for _ in range(32):  # cut chains whose root drifted away: the token starts its own chain
            root = parent
            for _ in range(64):
                nxt = root[root]
                if torch.equal(nxt, root):
                    break
                root = nxt
            far = (plan.x * plan.x[root]).sum(1) < self.config.pair_threshold
            far &= parent != idx
            if not bool(far.any()):
                return root
            parent = torch.where(far, idx, parent)
        return root

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        plan = self._plan(tokens, budget)
        dev = tokens.device
        s = plan.num_segments
        idx = torch.arange(len(tokens), device=dev)
        sizes = torch.bincount(plan.seg, minlength=s)
        # distinct content of each segment: what is left after folding every similar pair
        root = self._temporal_parents(plan, sizes)
        distinct = torch.bincount(plan.seg[root == idx], minlength=s)
        # floor: every segment may keep one frame's worth of its distinct tokens (a key frame)
        first = plan.layout.counts[plan.seg_first_frame]
        floor = torch.minimum(first, distinct)
        if int(distinct.sum()) >= budget:  # cluster the distinct tokens down to the budget
            seg_budget = allocate(budget, distinct.double(), distinct, floor=floor)
        else:  # room for more than the distinct tokens: fold only the most similar pairs
            seg_budget = allocate(budget, distinct.double(), sizes, floor=floor)
            root = self._temporal_parents(plan, sizes - seg_budget)
        parent = root.clone()
        roots_per_seg = torch.bincount(plan.seg[root == idx], minlength=s)
        is_root = root == idx
        for k in torch.nonzero(roots_per_seg > seg_budget).squeeze(1).tolist():
            members = torch.nonzero(is_root & (plan.seg == k)).squeeze(1)  # in time order
            self._cluster(plan, members, int(seg_budget[k]), parent)
        # every token to its final root: temporal root -> its cluster centre
        return tokens.merge(*_groups(parent[root]))

    def _cluster(self, plan: _Plan, members: torch.Tensor, k: int, parent: torch.Tensor) -> None:
        """Cluster ``members`` (roots of one segment) into ``k`` (DPC-kNN), in chunks of at
        most ``max_cluster_tokens``; writes each member's centre into ``parent``."""
        m = members.numel()
        chunks = max(1, min(-(-m // self.config.max_cluster_tokens), k))
        bounds = [round(i * m / chunks) for i in range(chunks + 1)]
        sizes = torch.tensor([b - a for a, b in zip(bounds, bounds[1:])], device=members.device)
        shares = allocate(k, sizes.double(), sizes)
        for (a, b), share in zip(zip(bounds, bounds[1:]), shares.tolist()):
            part = members[a:b]
            centres, cluster = density_peaks(
                plan.x[part],
                share,
                neighbours=self.config.neighbours,
                density_share=self.config.density_share,
            )
            parent[part] = part[centres][cluster]

    def default_budget(self, tokens: VisualTokens) -> int:
        plan = self._plan(tokens, len(tokens))
        sizes = torch.bincount(plan.seg, minlength=plan.num_segments)
        root = self._temporal_parents(plan, sizes)
        return max(1, int((root == torch.arange(len(tokens), device=tokens.device)).sum()))


def _groups(final: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(group [N], representative [G]) from each token's final root (roots map to themselves)."""
    reps, group = torch.unique(final, return_inverse=True)
    return group, reps
