"""Tensor helpers shared by the compressors: frame layout, grouping, representatives.

Everything here is batched torch code on the tokens' device; the only loops are over
chunks of frames (to bound memory) or over pointer-jumping rounds (log2 of the chain length).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from videopipe.types import VisualTokens


@dataclass(frozen=True)
class FrameLayout:
    """Where each token sits: which frame (0..F-1 in time order) and its slot in that frame.

    frame_of:  int64 [N], frame rank of each token
    slot:      int64 [N], position of the token inside its frame (0..count-1)
    counts:    int64 [F], tokens per frame
    offsets:   int64 [F], index of each frame's first token
    grid_h/w:  int64 [F], the frame's grid extent (max row / col + 1)
    """

    frame_of: torch.Tensor
    slot: torch.Tensor
    counts: torch.Tensor
    offsets: torch.Tensor
    grid_h: torch.Tensor
    grid_w: torch.Tensor

    @property
    def num_frames(self) -> int:
        return int(self.counts.shape[0])

    @property
    def max_count(self) -> int:
        return int(self.counts.max()) if self.num_frames else 0


def frame_layout(tokens: VisualTokens) -> FrameLayout:
    """The frame structure of ordered ``tokens`` (a new frame starts where frame or time changes)."""
    n = len(tokens)
    dev = tokens.device
    starts = torch.ones(n, dtype=torch.bool, device=dev)
    if n > 1:
        starts[1:] = (tokens.frame_idx[1:] != tokens.frame_idx[:-1]) | (
            tokens.time_s[1:] != tokens.time_s[:-1]
        )
    frame_of = torch.cumsum(starts.long(), 0) - 1
    f = int(frame_of[-1]) + 1 if n else 0
    counts = torch.bincount(frame_of, minlength=f)
    offsets = torch.cumsum(counts, 0) - counts
    slot = torch.arange(n, device=dev) - offsets[frame_of]
    zeros = torch.zeros(f, dtype=torch.long, device=dev)
    grid_h = zeros.scatter_reduce(0, frame_of, tokens.row, reduce="amax", include_self=True) + 1
    grid_w = zeros.scatter_reduce(0, frame_of, tokens.col, reduce="amax", include_self=True) + 1
    return FrameLayout(
        frame_of=frame_of, slot=slot, counts=counts, offsets=offsets, grid_h=grid_h, grid_w=grid_w
    )


def unit_features(tokens: VisualTokens) -> torch.Tensor:
    """L2-normalised features in float32 (similarities are computed in at least float32)."""
    x = tokens.features.to(torch.promote_types(tokens.features.dtype, torch.float32))
    return torch.nn.functional.normalize(x, dim=1)


def padded(
    x: torch.Tensor, layout: FrameLayout, start: int = 0, stop: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows ``x`` [N, D] of frames ``start..stop-1``, padded per frame:
    ([stop-start, M, D], valid mask [stop-start, M]) with M the longest frame of the video."""
    stop = layout.num_frames if stop is None else stop
    m = layout.max_count
    lo = int(layout.offsets[start])
    hi = int(layout.offsets[stop - 1] + layout.counts[stop - 1])
    rel = layout.frame_of[lo:hi] - start
    slot = layout.slot[lo:hi]
    out = x.new_zeros(stop - start, m, x.shape[1])
    out[rel, slot] = x[lo:hi]
    mask = torch.zeros(stop - start, m, dtype=torch.bool, device=x.device)
    mask[rel, slot] = True
    return out, mask


def first_per_group(group: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """For groups 0..G-1 (all non-empty), the member with the lowest ``score`` (ties: lowest
    index). Returns int64 [G] token indices in group order."""
    order = torch.argsort(score, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    g_sorted = group[order]
    first = torch.ones_like(g_sorted, dtype=torch.bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    return order[first]


def compact(raw: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Map arbitrary int64 keys to group ids 0..G-1 (in key order)."""
    uniq, inverse = torch.unique(raw, return_inverse=True)
    return inverse, int(uniq.shape[0])


def merge_by_parent(tokens: VisualTokens, parent: torch.Tensor) -> VisualTokens:
    """Fold every token into the root of its ``parent`` chain (parent[i] == i marks a root).

    Chains must be acyclic apart from the roots' self-loops (the compressors always point to an
    earlier token). Merged tokens take the position of their root; sizes add up."""
    for _ in range(64):  # pointer jumping: log2(longest chain) rounds
        nxt = parent[parent]
        if torch.equal(nxt, parent):
            break
        parent = nxt
    else:  # pragma: no cover - a cycle is a bug in the caller
        raise RuntimeError("merge_by_parent: parent chains do not terminate")
    roots, group = torch.unique(parent, return_inverse=True)
    return tokens.merge(group, roots)


def grid_shape_for(h: torch.Tensor, w: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest output grid (oh, ow) with oh*ow <= k, oh <= h, ow <= w, aspect close to h:w."""
    hf, wf, kf = h.double(), w.double(), k.double().clamp(min=1)
    s = torch.sqrt(kf / (hf * wf))
    oh = torch.floor(hf * s + 1e-9).long().clamp(min=1)
    oh = torch.minimum(oh, h)
    ow = torch.minimum(torch.div(k.clamp(min=1), oh, rounding_mode="floor").clamp(min=1), w)
    oh = torch.minimum(torch.div(k.clamp(min=1), ow, rounding_mode="floor").clamp(min=1), h)
    return oh, ow


def pool_groups(
    tokens: VisualTokens,
    layout: FrameLayout,
    k_per_group: torch.Tensor,
    frame_group: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pooling bins: (group [N], representative [G]) for ``VisualTokens.merge``.

    Frames are gathered into ``frame_group`` (int64 [F], consecutive frames, default one group
    per frame); each group's grid (the largest grid of its frames) is divided into at most
    ``k_per_group[g]`` bins of near-equal size (adaptive average pooling). A bin's
    representative is its member nearest the bin centre in the group's middle frame, so pooled
    tokens keep a real (frame, row, col) position.
    """
    dev = tokens.device
    f = layout.num_frames
    fg = torch.arange(f, device=dev) if frame_group is None else frame_group
    g = int(fg.max()) + 1 if f else 0
    zeros = torch.zeros(g, dtype=torch.long, device=dev)
    gh = zeros.scatter_reduce(0, fg, layout.grid_h, reduce="amax", include_self=True)
    gw = zeros.scatter_reduce(0, fg, layout.grid_w, reduce="amax", include_self=True)
    oh, ow = grid_shape_for(gh, gw, k_per_group)
    tg = fg[layout.frame_of]  # frame group of each token
    rb = torch.div(tokens.row * oh[tg], gh[tg], rounding_mode="floor")
    cb = torch.div(tokens.col * ow[tg], gw[tg], rounding_mode="floor")
    max_oh, max_ow = int(oh.max()), int(ow.max())
    group, _ = compact((tg * max_oh + rb) * max_ow + cb)
    # representative: middle frame of the frame group first, then nearest the bin centre
    frame_pos = torch.arange(f, device=dev, dtype=torch.float64)
    count_g = torch.zeros(g, dtype=torch.float64, device=dev).index_add_(0, fg, torch.ones_like(frame_pos))
    first_g = torch.full((g,), math.inf, dtype=torch.float64, device=dev)
    first_g = first_g.scatter_reduce(0, fg, frame_pos, reduce="amin", include_self=True)
    mid = first_g + (count_g - 1) / 2
    dt = (frame_pos[layout.frame_of] - mid[tg]).abs()
    cr = (rb.double() + 0.5) * gh[tg].double() / oh[tg].double() - 0.5
    cc = (cb.double() + 0.5) * gw[tg].double() / ow[tg].double() - 0.5
    d2 = (tokens.row.double() - cr) ** 2 + (tokens.col.double() - cc) ** 2
    score = dt * 1e6 + d2
    return group, first_per_group(group, score)


def pool_tokens(
    tokens: VisualTokens, k_per_frame: torch.Tensor, layout: FrameLayout | None = None
) -> VisualTokens:
    """Average-pool every frame to at most ``k_per_frame[f]`` tokens (frames already within
    their limit pass unchanged)."""
    layout = layout or frame_layout(tokens)
    if not bool((layout.counts > k_per_frame).any()):
        return tokens
    group, rep = pool_groups(tokens, layout, k_per_frame)
    return tokens.merge(group, rep)


def cosine_chunks(
    a: torch.Tensor, b: torch.Tensor, *, max_elems: int = 1 << 24
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best cosine similarity of each row of unit ``a`` [N, D] to rows of unit ``b`` [K, D]:
    (values [N], argmax [K-index] [N]); computed in row chunks to bound memory."""
    n, k = a.shape[0], b.shape[0]
    vals = torch.empty(n, dtype=a.dtype, device=a.device)
    idx = torch.empty(n, dtype=torch.long, device=a.device)
    step = max(1, max_elems // max(1, k))
    for s in range(0, n, step):
        v, i = (a[s : s + step] @ b.T).max(1)
        vals[s : s + step] = v
        idx[s : s + step] = i
    return vals, idx
