"""Cheap content signals on low-resolution frames: block colour histograms + block thumbnails,
and a frame distance that is robust to local change.

A frame is split into ``grid`` x ``grid`` blocks. Per block we keep a joint HSV histogram
(colour content, blind to motion inside the block) and a tiny RGB thumbnail (layout). The
distance between two frames is, per block, the larger of the half-L1 histogram distance and
twice the mean absolute thumbnail difference, and then the *median over blocks*: a scene cut
changes every block, while a moving object, a ticking clock, a subtitle or an on-screen
counter changes only a few, so they do not look like cuts. Values lie in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Signatures:
    """Per-frame block signatures: hist float32 [N, B, bins], thumb float32 [N, B, t*t*3]."""

    hist: np.ndarray
    thumb: np.ndarray

    def __len__(self) -> int:
        return int(self.hist.shape[0])

    def take(self, idx: np.ndarray | list[int]) -> Signatures:
        return Signatures(self.hist[idx], self.thumb[idx])

    def flat(self) -> np.ndarray:
        """One vector per frame (thumbnails, for diversity measures): float32 [N, B*t*t*3]."""
        return self.thumb.reshape(len(self), -1)

    @staticmethod
    def concat(parts: list[Signatures]) -> Signatures:
        return Signatures(np.concatenate([p.hist for p in parts]), np.concatenate([p.thumb for p in parts]))


def signatures(
    frames: np.ndarray, *, grid: int = 4, bins: tuple[int, int, int] = (8, 3, 3), thumb: int = 4
) -> Signatures:
    """Block signatures of uint8 RGB frames [N, H, W, 3] (H, W >= grid)."""
    import cv2

    n, h, w, _ = frames.shape
    nb = int(np.prod(bins))
    if n == 0:
        return Signatures(
            np.zeros((0, grid * grid, nb), np.float32),
            np.zeros((0, grid * grid, thumb * thumb * 3), np.float32),
        )
    ys = (np.arange(h) * grid // h).astype(np.int64)
    xs = (np.arange(w) * grid // w).astype(np.int64)
    block = (ys[:, None] * grid + xs[None, :]).ravel()  # block of each pixel
    hist = np.zeros((n, grid * grid, nb), np.float32)
    th = np.zeros((n, grid * grid, thumb * thumb * 3), np.float32)
    for k in range(n):
        fr = np.ascontiguousarray(frames[k])
        hsv = cv2.cvtColor(fr, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.int64)
        hb = np.minimum(hsv[:, 0] * bins[0] // 180, bins[0] - 1)
        sb = hsv[:, 1] * bins[1] // 256
        vb = hsv[:, 2] * bins[2] // 256
        code = block * nb + (hb * bins[1] + sb) * bins[2] + vb
        counts = np.bincount(code, minlength=grid * grid * nb).reshape(grid * grid, nb).astype(np.float32)
        hist[k] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        small = (
            cv2.resize(fr, (grid * thumb, grid * thumb), interpolation=cv2.INTER_AREA).astype(np.float32)
            / 255.0
        )
        th[k] = small.reshape(grid, thumb, grid, thumb, 3).transpose(0, 2, 1, 3, 4).reshape(grid * grid, -1)
    return Signatures(hist, th)


def distance(a: Signatures, b: Signatures, *, quantile: float = 0.5) -> np.ndarray:
    """Row-wise distance between aligned signatures ``a[i]`` and ``b[i]``: float [N] in [0, 1]."""
    dh = 0.5 * np.abs(a.hist - b.hist).sum(axis=-1)
    dp = np.minimum(1.0, 2.0 * np.abs(a.thumb - b.thumb).mean(axis=-1))
    return np.quantile(np.maximum(dh, dp), quantile, axis=-1)


def consecutive(s: Signatures) -> np.ndarray:
    """distance(frame i-1, frame i) for i = 1..N-1: float [N-1]."""
    if len(s) < 2:
        return np.zeros(0)
    return distance(s.take(np.arange(len(s) - 1)), s.take(np.arange(1, len(s))))


def pairwise(a: Signatures, b: Signatures) -> np.ndarray:
    """Distance of every frame of ``a`` to every frame of ``b``: float [len(a), len(b)]."""
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        rep = a.take(np.full(len(b), i))
        out[i] = distance(rep, b)
    return out


def robust_threshold(values: np.ndarray, *, k: float, floor: float) -> float:
    """max(floor, median + k * 1.4826 * MAD) of ``values`` (floor alone for < 5 values)."""
    if len(values) < 5:
        return floor
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return max(floor, med + k * mad)
