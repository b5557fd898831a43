"""``locate(video, query)``: the one function behind ``videopipe locate``, ``Pipeline.locate``
and the server; see :mod:`videopipe.locate.search` for how spans are found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videopipe.embedders.text_cache import embed_texts_cached
from videopipe.errors import InputError
from videopipe.locate.search import (
    LocateConfig,
    clip_ranges,
    find_spans,
    hubness,
    line_scores,
    topic_similarity,
)
from videopipe.locate.types import Evidence, Located, Span

if TYPE_CHECKING:
    from videopipe.protocols import Embedder
    from videopipe.text.timeline import TextLine, Timeline

__all__ = ["check_query", "locate", "topics"]


def check_query(query: str, video: str) -> str:
    """The query, stripped; an error naming the video when it is empty."""
    q = " ".join(str(query).split())
    if not q:
        raise InputError(f'{video}: the query is empty; say what to find, e.g. "the part about taxes"')
    return q


def topics(lines: Sequence[TextLine], emb: np.ndarray) -> np.ndarray:
    """Each line's topic number: the talk cut where its text shifts topic, by the TextTiling
    of :mod:`videopipe.chapters.segment` on the text alone (no slides, no scene cuts: nothing
    is decoded), with the chapters' default lengths."""
    from videopipe.chapters.segment import find_boundaries, gap_scores

    starts = np.array([ln.start_s for ln in lines], dtype=np.float64)
    ends = np.array([ln.end_s for ln in lines], dtype=np.float64)
    times, scores, signals = gap_scores(starts, ends, emb)
    found = find_boundaries(times, scores, signals, duration_s=float(ends.max(initial=0.0)))
    return np.searchsorted(np.array([b.time_s for b in found]), starts, side="right")


def locate(
    video: str | Path,
    query: str,
    *,
    timeline: Timeline | None = None,
    text: str | None = None,
    asr_model: str | None = None,
    top: int = 5,
    embedder: Embedder | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: Callable[[str, float, float], None] | None = None,
    config: LocateConfig | None = None,
) -> Located:
    """The ``top`` spans of ``video`` that match ``query``, best first. ``timeline``: its timed
    text when the caller has it, else read from ``text`` sources (``auto``: as ``chapters``).
    ``config``: the scoring settings (:class:`~videopipe.locate.search.LocateConfig`; its
    ``top`` is replaced by ``top``)."""
    from videopipe.chapters.job import job_timeline, sentences, text_embedder
    from videopipe.request import check_video

    path = check_video(video)
    q = check_query(query, str(path))
    cfg = replace(config, top=top) if config is not None else LocateConfig(top=top)
    timeline, notes = job_timeline(
        path, timeline, text=text, asr_model=asr_model, cache=cache, cache_dir=cache_dir, progress=progress
    )
    lines = sentences([ln for ln in timeline.lines if ln.source.value != "screen" and ln.text.strip()])
    if not lines:  # no speech or subtitles: the screen text is what there is
        lines = [ln for ln in timeline.lines if ln.text.strip()]
    if not lines:
        notes.append(f"{path}: no timed text to search")
        return Located(str(path), q, (), tuple(notes))
    embedder = text_embedder(embedder, "locate")
    q_emb = embedder.embed_texts([q]).numpy()[0]
    emb = embed_texts_cached(embedder, [ln.text for ln in lines], cache=cache, cache_dir=cache_dir)
    line_sim = emb @ q_emb
    context_sim = context_hub = None
    if cfg.context_lines > 1:
        runs = clip_ranges(len(lines), cfg.context_lines)
        texts = [" ".join(ln.text for ln in lines[a:b]) for a, b in runs]
        run_emb = embed_texts_cached(embedder, texts, cache=cache, cache_dir=cache_dir)
        context_sim = run_emb @ q_emb
        context_hub = hubness(run_emb, cfg.hub_k, apart=cfg.context_lines)
    topic_sim = topic_similarity(emb, q_emb, topics(lines, emb)) if cfg.topic_weight else None
    scores = line_scores(
        line_sim,
        hubness(emb, cfg.hub_k),
        cfg,
        context_sim=context_sim,
        context_hub=context_hub,
        topic_sim=topic_sim,
    )
    spans = []
    for found in find_spans(scores, cfg):
        evidence = tuple(
            Evidence(
                lines[i].start_s, lines[i].end_s, lines[i].text, lines[i].source.value, float(line_sim[i])
            )
            for i, _ in found.line_scores
        )
        spans.append(Span(lines[found.first].start_s, lines[found.last].end_s, found.score, evidence))
    return Located(str(path), q, tuple(spans), tuple(notes))
