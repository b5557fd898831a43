"""Spans of matching lines (pure numpy): hubness-corrected line scores, then spans best first.

1. **Line score**: the cosine similarity of the query to the line's embedding, less
   ``hub_weight`` times the line's *hubness*: the mean similarity of the line to its
   ``hub_k`` nearest other lines of the same talk (CSLS-style hubness reduction). Generic lines
   (fillers like "let us look more closely at the X", lines said again and again) are close to
   many queries about their topic, so a plain cosine ranks them over the one specific sentence
   a paraphrased query is about; subtracting how close a line is to everything else removes
   that bias. With ``context_lines`` > 1 the best score of the runs of that many lines around a
   line (embedded as one text, hubness-corrected the same way) is added with ``context_weight``.
2. **Topic** (clip retrieval first): the talk is cut into its topics by the same TextTiling
   ``videopipe chapters`` uses (topic shifts between neighbouring windows of sentences); each
   line's score adds ``topic_weight`` times the query's similarity to its topic (the mean
   embedding of the topic's lines). A transcript garbles words ("a llama floor" for "a lava
   flow"), so the one sentence a query is about may match it less well than a neighbour does;
   its topic, many sentences about the same thing, still matches. This ranks the sentences of
   the right topic over a stray sentence elsewhere that shares a word with the query. Its cost:
   on a clean transcript a query that sounds like another topic ("a drink after dinner may ruin
   your rest" next to a topic about sleep) can be pulled there; 0.5 keeps most of the gain on
   garbled transcripts and little of that cost (``benchmarks/results/locate.md``).
3. Lines are taken best first, skipping lines already in a span, until ``top`` spans.
4. **Edges**: the span is the run of lines around the best one (at most one line each side)
   whose score is within ``keep_margin`` of it.

Measured in ``benchmarks/locate.py`` (``benchmarks/results/locate.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videopipe.errors import ConfigError

__all__ = [
    "FoundSpan",
    "LocateConfig",
    "clip_ranges",
    "find_spans",
    "hubness",
    "line_scores",
    "topic_similarity",
]


@dataclass(frozen=True)
class LocateConfig:
    top: int = 5
    hub_k: int = 10
    hub_weight: float = 1.0
    context_lines: int = 1  # 1: no context runs
    context_weight: float = 0.25
    keep_margin: float = 0.05
    reach_lines: int = 1  # a span grows at most this many lines each side of its best line
    topic_weight: float = 0.5  # 0: no topic score

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError(f"--top must be >= 1, got {self.top}")
        if self.hub_k < 1:
            raise ConfigError(f"hub_k must be >= 1, got {self.hub_k}")
        if self.context_lines < 1:
            raise ConfigError(f"context_lines must be >= 1, got {self.context_lines}")


def clip_ranges(n: int, clip_lines: int) -> list[tuple[int, int]]:
    """[first, last) line ranges of the runs of ``clip_lines`` consecutive lines of ``n``."""
    if n == 0:
        return []
    k = min(clip_lines, n)
    return [(i, i + k) for i in range(n - k + 1)]


def hubness(emb: np.ndarray, k: int, *, apart: int = 1, block: int = 1024) -> np.ndarray:
    """For each row of ``emb`` (unit rows): the mean cosine similarity to its ``k`` most similar
    rows at least ``apart`` rows away (``apart`` > 1 for overlapping runs of lines, which are
    similar to their neighbours by construction); 0 for a row with no such other row."""
    n = len(emb)
    out = np.zeros(n, dtype=np.float64)
    for a in range(0, n, block):
        sim = emb[a : a + block] @ emb.T
        rows = np.arange(a, min(n, a + block))
        near = np.abs(rows[:, None] - np.arange(n)[None, :]) < apart
        sim[near] = -np.inf
        kk = min(k, n - min(n, 2 * apart - 1))
        if kk <= 0:
            continue
        top = -np.partition(-sim, kk - 1, axis=1)[:, :kk]
        out[rows] = np.where(np.isfinite(top), top, 0.0).mean(axis=1)
    return out


def topic_similarity(emb: np.ndarray, query: np.ndarray, topic: np.ndarray) -> np.ndarray:
    """For each line: the cosine similarity of ``query`` to the mean embedding of the lines of
    its topic. ``emb``: unit rows, one per line; ``topic``: each line's topic number."""
    out = np.zeros(len(emb), dtype=np.float64)
    for t in np.unique(topic):
        rows = topic == t
        mean = emb[rows].mean(axis=0)
        out[rows] = float(mean @ query) / max(1e-9, float(np.linalg.norm(mean)))
    return out


def line_scores(
    line_sim: np.ndarray,
    line_hub: np.ndarray,
    cfg: LocateConfig = LocateConfig(),
    *,
    context_sim: np.ndarray | None = None,
    context_hub: np.ndarray | None = None,
    topic_sim: np.ndarray | None = None,
) -> np.ndarray:
    """Each line's score (see the module docstring). ``context_sim`` / ``context_hub``: the
    similarity / hubness of the runs of ``cfg.context_lines`` lines (:func:`clip_ranges`);
    ``topic_sim``: :func:`topic_similarity` (left out when None or ``cfg.topic_weight`` is 0)."""
    score = line_sim - cfg.hub_weight * line_hub
    if topic_sim is not None and cfg.topic_weight:
        score = score + cfg.topic_weight * topic_sim
    if cfg.context_lines > 1 and context_sim is not None and context_hub is not None:
        run = context_sim - cfg.hub_weight * context_hub
        best = np.full(len(score), -np.inf)
        for j, (a, b) in enumerate(clip_ranges(len(score), cfg.context_lines)):
            best[a:b] = np.maximum(best[a:b], run[j])
        score = score + cfg.context_weight * np.where(np.isfinite(best), best, 0.0)
    return score


@dataclass(frozen=True)
class FoundSpan:
    first: int  # first line of the span
    last: int  # last line (inclusive)
    score: float
    line_scores: tuple[tuple[int, float], ...]  # (line, score), best first


def find_spans(scores: np.ndarray, cfg: LocateConfig = LocateConfig()) -> list[FoundSpan]:
    """The spans, best first (see the module docstring)."""
    n = len(scores)
    taken: list[FoundSpan] = []
    used = np.zeros(n, dtype=bool)
    for best in np.argsort(-scores, kind="stable"):
        if len(taken) >= cfg.top:
            break
        best = int(best)
        if used[best]:
            continue
        lo, hi = max(0, best - cfg.reach_lines), min(n - 1, best + cfg.reach_lines)
        first = last = best
        floor = scores[best] - cfg.keep_margin
        while first - 1 >= lo and not used[first - 1] and scores[first - 1] >= floor:
            first -= 1
        while last + 1 <= hi and not used[last + 1] and scores[last + 1] >= floor:
            last += 1
        used[first : last + 1] = True
        order = sorted(range(first, last + 1), key=lambda i: -scores[i])
        taken.append(FoundSpan(first, last, float(scores[best]), tuple((i, float(scores[i])) for i in order)))
    return taken
