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


def allocate(
    total: int, weights: torch.Tensor, caps: torch.Tensor, *, floor: int | torch.Tensor = 1
) -> torch.Tensor:
    """Split ``total`` integer units over groups: each gets ``floor`` (an int or int64 [G]; at
    most its cap), the rest in proportion to ``weights`` (float [G], >= 0), never above
    ``caps`` (int64 [G]); what a capped group cannot take goes to the others (water-filling,
    at most G rounds; integer parts by largest remainder, ties to the lower index). Sums to
    ``min(total, caps.sum())``. When the floors alone exceed ``total``, ``total`` is split in
    proportion to the floors instead (each at least 1 while units last)."""
    caps = caps.long()
    floors = torch.as_tensor(floor, dtype=torch.long, device=caps.device).expand_as(caps)
    out = torch.minimum(floors, caps)
    left = min(int(total), int(caps.sum())) - int(out.sum())
    if left < 0:  # even the floors do not fit: share the total in proportion to them
        if bool((out > 1).any()):
            return allocate(total, out.double(), out, floor=1)
        order = torch.sort(-weights.double(), stable=True).indices  # floors of 1: heaviest first
        res = torch.zeros_like(caps)
        res[order[: int(total)]] = out[order[: int(total)]]
        return res
    w = weights.double().clamp(min=0)
    for _ in range(int(caps.numel())):
        if left <= 0:
            break
        room = caps - out
        open_ = room > 0
        ww = torch.where(open_, w, torch.zeros_like(w))
        if float(ww.sum()) <= 0:
            ww = open_.double()
        share = ww / ww.sum() * left
        add = torch.minimum(torch.floor(share).long(), room)
        rem = left - int(add.sum())
        if rem > 0:  # largest remainders among groups with room left after the floor parts
            frac = torch.where(room - add > 0, share - torch.floor(share), torch.full_like(share, -1.0))
            order = torch.sort(-frac, stable=True).indices[:rem]
            order = order[frac[order] >= 0]
            add[order] += 1
        out = out + add
        left -= int(add.sum())
    return out


def same_position_previous(tokens: VisualTokens, layout: FrameLayout) -> torch.Tensor:
    """For each token, the index of the token at the same (row, col) in the previous frame
    (frame order of ``layout``), -1 where there is none (first frame, other grid, pruned)."""
    n, f = len(tokens), layout.num_frames
    dev = tokens.device
    prev = torch.full((n,), -1, dtype=torch.long, device=dev)
    if f < 2:
        return prev
    h = int(layout.grid_h.max())
    w = int(layout.grid_w.max())
    where = torch.full((f * h * w,), -1, dtype=torch.long, device=dev)
    key = (layout.frame_of * h + tokens.row) * w + tokens.col
    where[key] = torch.arange(n, device=dev)
    later = layout.frame_of > 0
    prev[later] = where[key[later] - h * w]
    return prev


def density_peaks(
    x: torch.Tensor, k: int, *, neighbours: int = 5, density_share: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Density-peaks clustering (DPC-kNN: Rodriguez & Laio 2014, kNN density of Du et al. 2016)
    of unit rows ``x`` [n, D] into ``k`` clusters: density rho = exp(-mean squared distance to
    the ``neighbours`` nearest rows), delta = distance to the nearest denser row (the densest:
    its largest distance); the ``round(k * density_share)`` rows (at least 1) with the largest
    rho * delta are centres, the others are added by greedy farthest-point selection (each
    time the row farthest from every centre so far: no region is left without one); every row
    joins its most similar centre. Returns (centres int64 [k], cluster of each row [n]).
    Cost O(n^2 D) time (+ O(n k D) for the farthest-point part) and O(n^2) memory: callers bound ``n``. Ties go to the lower index."""
    n = x.shape[0]
    dev = x.device
    k = max(1, min(k, n))
    if k >= n:
        idx = torch.arange(n, device=dev)
        return idx, idx
    sim = x @ x.T
    d2 = (2.0 - 2.0 * sim).clamp(min=0)
    nn = min(neighbours, n - 1)
    knn = torch.topk(d2, nn + 1, dim=1, largest=False).values[:, 1:]  # drop self
    rho = torch.exp(-knn.mean(1))
    order = torch.sort(-rho, stable=True).indices
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=dev)
    dist = d2.sqrt()
    denser = rank.unsqueeze(0) < rank.unsqueeze(1)  # [i, j]: j is denser than i
    delta = torch.where(denser, dist, torch.full_like(dist, float("inf"))).min(1).values
    top = order[0]
    delta[top] = dist[top].max()
    score = rho * delta
    peaks = max(1, round(k * density_share))
    centres = torch.sort(-score, stable=True).indices[:peaks]
    if peaks < k:  # the rest: farthest-point (max-min diversity) seeded with the peaks
        centres = farthest_point(x, k, init=centres)
    cluster = sim[:, centres].argmax(1)
    cluster[centres] = torch.arange(k, device=dev)
    return centres, cluster


def frame_uniqueness(tokens: VisualTokens, layout: FrameLayout) -> torch.Tensor:
    """VidCom2's frame uniqueness, float [F]: 1 - cosine between a frame's mean (unit) token
    and the whole video's mean token (frames unlike the rest of the video score high)."""
    x = unit_features(tokens)
    f = layout.num_frames
    frame_mean = torch.zeros(f, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, layout.frame_of, x)
    frame_mean = torch.nn.functional.normalize(frame_mean, dim=1)
    video_mean = torch.nn.functional.normalize(x.mean(0), dim=0)
    return 1.0 - frame_mean @ video_mean


def frame_budgets(
    tokens: VisualTokens, layout: FrameLayout, budget: int, mode: str, temperature: float
) -> torch.Tensor:
    """Tokens per frame, int64 [F], summing to ``min(budget, len(tokens))`` with >= 1 each
    (``budget`` >= frames): ``"even"`` splits evenly; ``"uniqueness"`` (VidCom2) in proportion
    to softmax(frame uniqueness / ``temperature``), so distinctive frames get more."""
    f = layout.num_frames
    if mode == "uniqueness":
        u = frame_uniqueness(tokens, layout).double()
        weights = torch.softmax(u / temperature, 0)
    else:
        weights = torch.ones(f, dtype=torch.float64, device=tokens.device)
    return allocate(budget, weights, layout.counts)


def farthest_point(x: torch.Tensor, k: int, *, init: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy max-min selection of ``k`` rows of unit ``x`` [N, D] (cosine distance).

    ``init``: indices already selected (their diversity constraint is honoured); the result
    contains them first. Without it the first row is the one least similar to the mean row.
    Returns int64 [k] indices (k <= N)."""
    chosen = torch.empty(k, dtype=torch.long, device=x.device)
    if init is not None and init.numel():
        m = init.numel()
        chosen[:m] = init
        mind = 1.0 - cosine_chunks(x, x[init])[0]
        mind[init] = -1.0
        start = m
    else:
        centre = torch.nn.functional.normalize(x.mean(0), dim=0)
        first = torch.argmin(x @ centre)
        chosen[0] = first
        mind = 1.0 - x @ x[first]
        mind[first] = -1.0
        start = 1
    for i in range(start, k):
        j = torch.argmax(mind)
        chosen[i] = j
        mind = torch.minimum(mind, 1.0 - x @ x[j])
        mind[j] = -1.0
    return chosen
