"""Fidelity of a compression: how well the kept tokens still represent the original ones.

Three views of the same best-match similarities (each original token's best cosine to any
compressed token), used by ``benchmarks/compressors.py`` and ``videopipe compare``:

- :func:`token_coverage`: their size-weighted mean (hides a lost short event);
- :func:`frame_coverage` / the 5th percentile in :func:`measure`: per original frame, so a
  frame whose content was dropped shows up however short it is;
- :func:`needle_score`: the share of *event* tokens (e.g. 1-2 s of new content inserted in a
  long video) whose best kept match has cosine >= 0.9.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from videopipe.compressors._ops import cosine_chunks, unit_features
from videopipe.types import VisualTokens

if TYPE_CHECKING:
    import torch

NEEDLE_COSINE = 0.9
PERCENTILE = 5.0

__all__ = [
    "CompressionMetrics",
    "best_match",
    "drop_frames_uniform",
    "event_mask",
    "frame_coverage",
    "measure",
    "needle_score",
    "timed",
    "token_coverage",
]


def best_match(original: VisualTokens, compressed: VisualTokens) -> torch.Tensor:
    """float [N]: each original token's best cosine similarity to any compressed token
    (-1 everywhere when nothing was kept)."""
    import torch

    a = unit_features(original)
    if len(compressed) == 0:
        return torch.full((len(original),), -1.0, dtype=a.dtype, device=a.device)
    b = unit_features(compressed.to(original.device)).to(a.dtype)
    return cosine_chunks(a, b)[0]


def _weighted_mean(best: torch.Tensor, original: VisualTokens) -> float:
    w = original.size.to(best.dtype)
    return float((best * w).sum() / w.sum())


def token_coverage(original: VisualTokens, compressed: VisualTokens) -> float:
    """Size-weighted mean, over the original tokens, of the best cosine similarity to any
    compressed token (1.0: every original token has an exact copy in the compressed set)."""
    if len(original) == 0:
        return 1.0
    if len(compressed) == 0:
        return 0.0
    return _weighted_mean(best_match(original, compressed), original)


def _frame_means(best: torch.Tensor, original: VisualTokens) -> torch.Tensor:
    import torch

    _, inverse = torch.unique(original.frame_idx, return_inverse=True)
    f = int(inverse.max()) + 1
    w = original.size.to(best.dtype)
    num = torch.zeros(f, dtype=best.dtype, device=best.device).index_add_(0, inverse, best * w)
    den = torch.zeros(f, dtype=best.dtype, device=best.device).index_add_(0, inverse, w)
    return num / den


def frame_coverage(original: VisualTokens, compressed: VisualTokens) -> torch.Tensor:
    """float [F]: coverage of each original frame (in frame-number order): the size-weighted
    mean of its tokens' best cosine to any compressed token."""
    return _frame_means(best_match(original, compressed), original)


def needle_score(
    original: VisualTokens,
    compressed: VisualTokens,
    events: torch.Tensor,
    *,
    threshold: float = NEEDLE_COSINE,
) -> float:
    """Share of the event tokens (bool mask ``events`` [N] over ``original``) whose best match
    among the compressed tokens has cosine >= ``threshold``."""
    if not bool(events.any()):
        raise ValueError("needle_score: the event mask selects no token")
    best = best_match(original, compressed)
    return float((best[events] >= threshold).double().mean())


def event_mask(tokens: VisualTokens, spans_s: Sequence[tuple[float, float]]) -> torch.Tensor:
    """bool [N]: tokens whose frame time lies in one of the ``spans_s`` (start_s, end_s), ends
    included."""
    import torch

    mask = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
    for start, end in spans_s:
        mask |= (tokens.time_s >= start) & (tokens.time_s <= end)
    return mask


@dataclass(frozen=True)
class CompressionMetrics:
    """One compression measured against its input.

    mean_coverage:   :func:`token_coverage`
    p5_coverage:     5th percentile of :func:`frame_coverage` over the frames
    min_coverage:    the worst frame's coverage
    needle_score:    :func:`needle_score` (None without events)
    tokens_in/out:   token counts
    seconds:         wall time of the compression (None when not timed)
    """

    mean_coverage: float
    p5_coverage: float
    min_coverage: float
    needle_score: float | None
    tokens_in: int
    tokens_out: int
    seconds: float | None = None

    @property
    def ms_per_10k_tokens(self) -> float | None:
        if self.seconds is None or self.tokens_in == 0:
            return None
        return 1000 * self.seconds * 10_000 / self.tokens_in

    def to_dict(self) -> dict[str, float | int | None]:
        return {**asdict(self), "ms_per_10k_tokens": self.ms_per_10k_tokens}


def measure(
    original: VisualTokens,
    compressed: VisualTokens,
    *,
    events: torch.Tensor | None = None,
    seconds: float | None = None,
) -> CompressionMetrics:
    """All metrics of ``compressed`` against ``original`` from one best-match pass; the
    needle score needs the ``events`` mask (bool [N] over ``original``)."""
    import torch

    best = best_match(original, compressed)
    frames = _frame_means(best, original)
    needle = None
    if events is not None and bool(events.any()):
        needle = float((best[events] >= NEEDLE_COSINE).double().mean())
    return CompressionMetrics(
        mean_coverage=_weighted_mean(best, original),
        p5_coverage=float(torch.quantile(frames.double(), PERCENTILE / 100)),
        min_coverage=float(frames.min()),
        needle_score=needle,
        tokens_in=len(original),
        tokens_out=len(compressed),
        seconds=seconds,
    )


def timed(
    fn: Callable[[VisualTokens, int], VisualTokens], tokens: VisualTokens, budget: int
) -> tuple[VisualTokens, float]:
    """``fn(tokens, budget)`` and its wall time in seconds."""
    t0 = time.perf_counter()
    out = fn(tokens, budget)
    return out, time.perf_counter() - t0


def drop_frames_uniform(tokens: VisualTokens, budget: int) -> VisualTokens:
    """Baseline: keep whole frames spread uniformly over time, as many as fit the budget
    (at least one frame, truncated to the budget if even one does not fit)."""
    import torch

    if len(tokens) <= budget:
        return tokens
    frames, inverse, counts = torch.unique(tokens.frame_idx, return_inverse=True, return_counts=True)
    per_frame = int(counts.max())
    k = max(1, min(len(frames), budget // per_frame))
    pick = torch.floor((torch.arange(k, device=tokens.device) + 0.5) * len(frames) / k).long()
    keep = torch.zeros(len(frames), dtype=torch.bool, device=tokens.device)
    keep[pick] = True
    idx = torch.nonzero(keep[inverse]).squeeze(1)[:budget]
    return tokens.select(idx)
