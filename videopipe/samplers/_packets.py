"""Content changes from compressed packet sizes, without decoding.

A predicted (P/B) frame whose picture changes a lot -- a scene cut, a flash, a short inserted
scene starting or ending -- cannot be predicted from its references, so the encoder codes it
with intra blocks and its packet is several times larger than its neighbours'. Packet sizes
come with the frame table (container index or demuxed packets), so this signal costs nothing
to read: it finds changes *between* keyframes, which keyframe-only candidates miss.

Detector (:func:`size_spikes`): each non-key frame's size is divided by a high quantile
(``quantile``, 0.9) of the sizes of the non-key frames within ``window_s`` seconds on both
sides (keyframes replaced by their preceding frame's size). A high quantile rather than the median keeps the periodic large frames of a P/B (or
VP9 alt-ref) pattern from counting as spikes. A frame is a spike when that ratio is at least
``min_ratio`` and at least twice the video's own 95th-percentile ratio (noisy, high-motion
video raises its threshold) -- or, for content whose P-frames already cost about half an
I-frame, when the ratio is at least 1.5 (and 1.5 x the 95th percentile) and the packet is at
least 3/4 the size of the smaller of the keyframes before and after it (it was coded like an
I-frame). It must also be the largest ratio within ``window_s / 4`` on either side (one spike
per change). Keyframes are never spikes: they are candidates already.

With B-frames the first frame of new content may be a B-frame coded from the next P-frame,
so the spike can land a few frames after the cut: the frame *at* the spike always shows the
new content, the frame ``before_s`` (and at least 4 frames) earlier the old one (or the
keyframe, when that frame lies before it).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Spikes", "size_spikes", "spike_candidates"]

# the "old content" frame is at least this many frames before a spike: with B-frames the spike
# (the P-frame that carries the new picture) lands up to the B-frame run length after the cut
MIN_BACK_FRAMES = 4
# a weaker spike (ratio >= WEAK_RATIO) counts when the packet is about as large as the
# keyframes around it (>= INTRA_FRACTION of the smaller of the two): an intra-coded picture
WEAK_RATIO = 1.5
INTRA_FRACTION = 0.75


@dataclass(frozen=True)
class Spikes:
    """indices: int64 [S] frames whose packet is a spike (sorted by frame); ratio: float64 [S]
    their size / local reference; threshold: the ratio threshold used."""

    indices: np.ndarray
    ratio: np.ndarray
    threshold: float


def _fill_keys(sizes: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Sizes with each keyframe's replaced by the previous non-key frame's (the first
    non-key frame's for leading keyframes), so keyframes do not raise the reference."""
    s = sizes.astype(np.float64)
    n = s.shape[0]
    if not (~key).any():
        return s
    pos = np.where(~key, np.arange(n), -1)
    np.maximum.accumulate(pos, out=pos)
    first = int(np.argmax(~key))
    pos[pos < 0] = first
    return s[pos]


def _keyframe_reference(sizes: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Per frame, the smaller of the sizes of the keyframes before and after it (the one
    before at the end; the first keyframe's before it)."""
    ks = np.flatnonzero(key)
    if ks.shape[0] == 0:
        return np.full(sizes.shape[0], np.inf)
    kz = sizes[ks]
    j = np.searchsorted(ks, np.arange(sizes.shape[0]), side="right") - 1
    prev = kz[np.clip(j, 0, ks.shape[0] - 1)]
    nxt = kz[np.clip(j + 1, 0, ks.shape[0] - 1)]
    return np.where((j >= 0) & (j + 1 < ks.shape[0]), np.minimum(prev, nxt), prev)


def _rolling_quantile(s: np.ndarray, half: int, q: float, *, chunk: int = 4096) -> np.ndarray:
    """Quantile ``q`` (nearest order statistic) of ``s[i-half : i+half+1]`` (reflected at the
    ends). The window includes ``s[i]`` itself, which moves a high quantile of ~100 values by
    at most one rank (and partitioning the strided view directly is ~10x faster than a copy
    without the centre)."""
    from numpy.lib.stride_tricks import sliding_window_view

    n = s.shape[0]
    pad = np.pad(s, (half, half), mode="reflect") if n > 1 else np.repeat(s, 2 * half + 1)
    view = sliding_window_view(pad, 2 * half + 1)
    k = int(round(q * 2 * half))
    out = np.empty(n, np.float64)
    for a in range(0, n, chunk):  # bounded memory on hour-long videos
        out[a : a + chunk] = np.partition(view[a : a + chunk], k, axis=1)[:, k]
    return out


def size_spikes(
    sizes: np.ndarray,
    keyframes: Sequence[int],
    fps: float,
    *,
    min_ratio: float = 2.5,
    window_s: float = 2.0,
    quantile: float = 0.9,
) -> Spikes:
    """Non-key frames whose packet is much larger than the nearby non-key packets (see the
    module docstring). ``sizes``: int [N] packet bytes in presentation order."""
    sz = np.asarray(sizes, np.float64).reshape(-1)
    n = sz.shape[0]
    empty = Spikes(np.zeros(0, np.int64), np.zeros(0), float(min_ratio))
    key = np.zeros(n, bool)
    k = np.asarray(list(keyframes), np.int64)
    key[k[(k >= 0) & (k < n)]] = True
    if n < 3 or key.all():
        return empty
    half = max(4, int(round(window_s * max(fps, 1e-3))))
    half = min(half, max(1, n - 1))
    ref = _rolling_quantile(_fill_keys(sz, key), half, quantile)
    ratio = sz / np.maximum(ref, 1.0)
    ratio[key] = 0.0
    noise = float(np.quantile(ratio[~key], 0.95))
    thr = max(float(min_ratio), 2.0 * noise)
    # intra-like: about as large as the keyframes around it (content whose P-frames already
    # cost half an I-frame cannot spike min_ratio x, but a cut still costs a whole I-frame)
    intra = sz / np.maximum(_keyframe_reference(sz, key), 1.0)
    weak = (ratio >= max(WEAK_RATIO, WEAK_RATIO * noise)) & (intra >= INTRA_FRACTION)
    over = np.nonzero((ratio >= thr) | weak)[0]
    if over.shape[0] == 0:
        return Spikes(np.zeros(0, np.int64), np.zeros(0), thr)
    # non-maximum suppression: one spike per change
    r = max(1, half // 4)
    keep = [i for i in over.tolist() if ratio[i] >= ratio[max(0, i - r) : i + r + 1].max()]
    out: list[int] = []
    for i in keep:  # equal neighbours (a two-frame spike): keep the first
        if not out or i - out[-1] > r:
            out.append(i)
    idx = np.asarray(out, np.int64)
    return Spikes(idx, ratio[idx], thr)


def spike_candidates(
    spikes: Spikes,
    base: Sequence[int],
    keyframes: Sequence[int],
    fps: float,
    num_frames: int,
    *,
    budget_frames: int,
    before_s: float = 0.2,
    max_added: int | None = None,
) -> tuple[list[int], int]:
    """Candidate frames around the spikes whose extra decode cost fits ``budget_frames``,
    cheapest first (so the budget covers as many changes as it can): for each spike, the frame at it (new content) and the frame ``before_s``
    earlier (old content; left out when that lies before the spike's keyframe, which then
    shows the old content and decodes alone). ``base``: the candidates already chosen (their
    decode cost is paid). Returns (added frames, sorted; frames decoded for them beyond
    ``base``, as :func:`~videopipe.samplers.frame_times.decode_cost` counts them). At most
    ``max_added`` frames are added (None: no limit besides the budget)."""
    if budget_frames <= 0 or spikes.indices.shape[0] == 0:
        return [], 0
    back = max(MIN_BACK_FRAMES, int(round(before_s * fps)))
    keys = np.asarray(sorted(set(int(k) for k in keyframes)) or [0], np.int64)
    have = set(int(i) for i in base)
    # decode_cost is, per GOP with a chosen frame, (last chosen frame - keyframe + 1): keep
    # each GOP's last chosen frame and pay only for moving it later
    last: dict[int, int] = {}
    for i in have:
        g = int(keys[max(0, np.searchsorted(keys, i, side="right") - 1)])
        last[g] = max(last.get(g, g - 1), i)
    added: set[int] = set()
    spent = 0
    # cheapest first (most changes covered for the budget; stronger first among equals).
    # Taking a spike makes the later spikes of its GOP cheaper: they are pushed again with
    # their new cost, and entries whose cost is out of date are skipped.
    gop = {int(p): int(keys[max(0, np.searchsorted(keys, p, side="right") - 1)]) for p in spikes.indices}
    strength = {int(p): float(r) for p, r in zip(spikes.indices, spikes.ratio)}
    by_gop: dict[int, list[int]] = {}
    for p, g in gop.items():
        by_gop.setdefault(g, []).append(p)

    def cost_of(p: int) -> int:
        g = gop[p]
        return max(0, p - last.get(g, g - 1))

    heap = [(cost_of(p), -strength[p], p) for p in gop]
    heapq.heapify(heap)
    taken: set[int] = set()
    while heap:
        cost, _, p = heapq.heappop(heap)
        if p in taken or cost != cost_of(p):
            continue
        if spent + cost > budget_frames:
            break  # every other spike costs at least as much
        g = gop[p]
        new = {i for i in (p - back, p) if g <= i < num_frames and i not in have} - added
        if max_added is not None and len(added) + len(new) > max_added:
            break  # the candidate cap (max_candidates) is reached
        taken.add(p)
        added |= new
        spent += cost
        if p > last.get(g, g - 1):
            last[g] = p
            for q in by_gop[g]:
                if q not in taken:
                    heapq.heappush(heap, (cost_of(q), -strength[q], q))
    return sorted(added), spent
