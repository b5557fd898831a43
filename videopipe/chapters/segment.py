"""Chapter boundaries from three signals (pure numpy; no model, no media):

1. **Topic shifts in the timed text** (TextTiling with sentence embeddings): at every gap
   between two spoken lines, the cosine similarity of the mean embedding of the lines in the
   ``window_s`` before and in the ``window_s`` after; a gap's *depth* is how far that similarity
   falls below its highest values within ``window_s`` on either side (a valley between two
   coherent stretches).
2. **Slide changes**: where the screen text changes, weighted by how different the new text is
   (a new title counts fully, the same title with new bullets much less).
3. **Scene cuts**: a cut near a gap adds a little.

A gap's score is its depth plus the weighted slide and cut evidence near it. Gaps scoring at
least ``threshold`` are taken best first, each at least ``min_len_s`` from the ones taken and
from both ends of the video; a chapter still longer than ``max_len_s`` is split at its best gap.
A boundary sits at the start of the sentence after the gap (the end of the one before), or on a
cut inside that silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videopipe.errors import ConfigError

__all__ = ["Boundary", "SegmentConfig", "find_boundaries", "gap_scores"]


@dataclass(frozen=True)
class SegmentConfig:
    min_len_s: float = 30.0
    max_len_s: float = 900.0
    window_s: float = 40.0
    threshold: float = 0.5
    screen_weight: float = 0.35
    cut_weight: float = 0.1
    near_s: float = 8.0

    def __post_init__(self) -> None:
        if not self.min_len_s > 0:
            raise ConfigError(f"chapter min length must be > 0 s, got {self.min_len_s}")
        if self.max_len_s < 2 * self.min_len_s:
            raise ConfigError(
                f"chapter max length ({self.max_len_s:g} s) must be at least twice the min length "
                f"({self.min_len_s:g} s)"
            )
        if not self.window_s > 0:
            raise ConfigError(f"chapter window must be > 0 s, got {self.window_s}")


@dataclass(frozen=True)
class Boundary:
    time_s: float
    score: float
    signals: tuple[str, ...]


def gap_scores(
    starts: np.ndarray,
    ends: np.ndarray,
    emb: np.ndarray,
    *,
    screen_changes: Sequence[tuple[float, float]] = (),
    cuts: Sequence[float] = (),
    cfg: SegmentConfig = SegmentConfig(),
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    """For each gap between line ``g`` and ``g + 1``: its boundary time, its score and the
    signals that contributed. ``emb``: unit rows, one per line."""
    n = len(starts)
    if n < 2:
        return np.zeros(0), np.zeros(0), []
    times = starts[1:].astype(np.float64).copy()
    sim = np.empty(n - 1)
    csum = np.concatenate([np.zeros((1, emb.shape[1])), np.cumsum(emb, axis=0)])
    for g in range(n - 1):
        t = times[g]
        lo = int(np.searchsorted(starts, t - cfg.window_s, side="left"))
        hi = int(np.searchsorted(starts, t + cfg.window_s, side="left"))
        lo, hi = min(lo, g), max(hi, g + 2)
        left = csum[g + 1] - csum[lo]
        right = csum[hi] - csum[g + 1]
        sim[g] = float(left @ right) / max(1e-9, float(np.linalg.norm(left) * np.linalg.norm(right)))
    depth = _depth(sim, times, cfg.window_s)
    score = depth.copy()
    signals: list[tuple[str, ...]] = [("text",) if d > 0 else () for d in depth]
    cut_arr = np.asarray(sorted(cuts), dtype=np.float64)
    for g in range(n - 1):
        gap_a, gap_b = float(ends[g]), float(starts[g + 1])
        inside = cut_arr[(cut_arr >= gap_a - 0.25) & (cut_arr <= gap_b + 0.25)]
        if inside.size:
            times[g] = float(inside[0])
        near = [(nov, abs(t - times[g])) for t, nov in screen_changes if abs(t - times[g]) <= cfg.near_s]
        if near:
            # the nearest gap to a slide change wins a tie (a 0.1% tilt by distance, below any real signal)
            score[g] += max(
                cfg.screen_weight * nov * (1.0 - 1e-3 * dist / max(cfg.near_s, 1e-9)) for nov, dist in near
            )
            signals[g] = (*signals[g], "screen")
        if cut_arr.size and np.min(np.abs(cut_arr - times[g])) <= cfg.near_s:
            score[g] += cfg.cut_weight
            signals[g] = (*signals[g], "cut")
    return times, score, signals


def _depth(sim: np.ndarray, times: np.ndarray, window_s: float) -> np.ndarray:
    """TextTiling depth: (left peak - s) + (right peak - s), each peak the highest similarity
    within ``window_s`` on its side (robust to the small bumps a noisy transcript makes)."""
    out = np.zeros(len(sim))
    for g in range(len(sim)):
        lo = int(np.searchsorted(times, times[g] - window_s, side="left"))
        hi = int(np.searchsorted(times, times[g] + window_s, side="right"))
        out[g] = (sim[lo : g + 1].max() - sim[g]) + (sim[g:hi].max() - sim[g])
    out[out < 1e-9] = 0.0  # rounding noise of identical windows is no topic shift (it differs between CPUs)
    return out


def find_boundaries(
    times: np.ndarray,
    scores: np.ndarray,
    signals: Sequence[tuple[str, ...]],
    *,
    duration_s: float,
    cfg: SegmentConfig = SegmentConfig(),
) -> list[Boundary]:
    """The chosen boundaries in time order (see the module docstring)."""
    chosen: list[int] = []

    def fits(t: float, taken: list[float]) -> bool:
        if t < cfg.min_len_s or duration_s - t < cfg.min_len_s:
            return False
        return all(abs(t - u) >= cfg.min_len_s for u in taken)

    for g in np.argsort(-scores, kind="stable"):
        if scores[g] < cfg.threshold:
            break
        if fits(float(times[g]), [float(times[c]) for c in chosen]):
            chosen.append(int(g))
    out = [Boundary(float(times[g]), float(scores[g]), tuple(signals[g])) for g in chosen]
    return _split_long(sorted(out, key=lambda b: b.time_s), times, scores, signals, duration_s, cfg)


def _split_long(
    found: list[Boundary],
    times: np.ndarray,
    scores: np.ndarray,
    signals: Sequence[tuple[str, ...]],
    duration_s: float,
    cfg: SegmentConfig,
) -> list[Boundary]:
    """Split every chapter longer than ``max_len_s`` at its best gap (or evenly, with no gap)."""
    while True:
        edges = [0.0, *(b.time_s for b in found), duration_s]
        long = [(a, b) for a, b in zip(edges, edges[1:]) if b - a > cfg.max_len_s]
        if not long:
            return found
        a, b = long[0]
        ok = [g for g in range(len(times)) if times[g] - a >= cfg.min_len_s and b - times[g] >= cfg.min_len_s]
        if ok:
            g = max(ok, key=lambda i: scores[i])
            new = Boundary(float(times[g]), float(scores[g]), tuple(signals[g]) or ("length",))
        else:
            new = Boundary(a + (b - a) / 2, 0.0, ("length",))
        found = sorted([*found, new], key=lambda x: x.time_s)
