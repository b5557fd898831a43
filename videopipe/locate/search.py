"""Spans of matching lines (pure numpy): clip retrieval, then line-level edges.

1. **Clips**: every run of ``clip_lines`` consecutive lines is a clip; its score is the cosine
   similarity of the query to the clip's text embedding.
2. Clips are taken best first, skipping any that overlaps a span already taken (non-maximum
   suppression), until ``top`` spans.
3. **Edges**: inside the clip (widened by one line each side) the span is the run of
   consecutive lines around the best-matching line whose similarity is within ``keep_margin``
   of it; the span's score is the mean of the clip's score and that line's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videopipe.errors import ConfigError

__all__ = ["LocateConfig", "clip_ranges", "find_spans"]


@dataclass(frozen=True)
class LocateConfig:
    top: int = 5
    clip_lines: int = 3
    keep_margin: float = 0.08

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError(f"--top must be >= 1, got {self.top}")
        if self.clip_lines < 1:
            raise ConfigError(f"clip_lines must be >= 1, got {self.clip_lines}")


def clip_ranges(n: int, clip_lines: int) -> list[tuple[int, int]]:
    """[first, last) line ranges of the clips of ``n`` lines."""
    if n == 0:
        return []
    k = min(clip_lines, n)
    return [(i, i + k) for i in range(n - k + 1)]


@dataclass(frozen=True)
class FoundSpan:
    first: int  # first line of the span
    last: int  # last line (inclusive)
    score: float
    line_scores: tuple[tuple[int, float], ...]  # (line, similarity), best first


def find_spans(
    line_sim: np.ndarray,
    clips: Sequence[tuple[int, int]],
    clip_sim: np.ndarray,
    cfg: LocateConfig = LocateConfig(),
) -> list[FoundSpan]:
    """The spans, best first (see the module docstring). ``line_sim`` / ``clip_sim``: the
    query's similarity to each line / clip."""
    n = len(line_sim)
    taken: list[FoundSpan] = []
    used = np.zeros(n, dtype=bool)
    for c in np.argsort(-clip_sim, kind="stable"):
        if len(taken) >= cfg.top:
            break
        a, b = clips[int(c)]
        if used[a:b].any():
            continue
        lo, hi = max(0, a - 1), min(n, b + 1)
        free = [i for i in range(lo, hi) if not used[i]]
        best = max(free, key=lambda i: line_sim[i])
        first = last = best
        while (
            first - 1 >= lo
            and not used[first - 1]
            and line_sim[first - 1] >= line_sim[best] - cfg.keep_margin
        ):
            first -= 1
        while last + 1 < hi and not used[last + 1] and line_sim[last + 1] >= line_sim[best] - cfg.keep_margin:
            last += 1
        used[first : last + 1] = True
        order = sorted(range(first, last + 1), key=lambda i: -line_sim[i])
        score = (float(clip_sim[c]) + float(line_sim[best])) / 2
        taken.append(FoundSpan(first, last, score, tuple((i, float(line_sim[i])) for i in order)))
    return sorted(taken, key=lambda s: -s.score)
