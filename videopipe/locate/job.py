"""``locate(video, query)``: the one function behind ``videopipe locate``, ``Pipeline.locate``
and the server; see :mod:`videopipe.locate.search` for how spans are found."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videopipe.errors import ConfigError, InputError
from videopipe.locate.search import LocateConfig, clip_ranges, find_spans
from videopipe.locate.types import Evidence, Located, Span

if TYPE_CHECKING:
    from videopipe.protocols import Embedder
    from videopipe.text.timeline import Timeline

__all__ = ["check_query", "locate"]


def check_query(query: str, video: str) -> str:
    """The query, stripped; an error naming the video when it is empty."""
    q = " ".join(str(query).split())
    if not q:
        raise InputError(f'{video}: the query is empty; say what to find, e.g. "the part about taxes"')
    return q


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
) -> Located:
    """The ``top`` spans of ``video`` that match ``query``, best first. ``timeline``: its timed
    text when the caller has it, else read from ``text`` sources (``auto``: as ``chapters``)."""
    from videopipe.chapters.job import job_timeline, sentences
    from videopipe.request import check_video

    path = check_video(video)
    q = check_query(query, str(path))
    cfg = LocateConfig(top=top)
    timeline, notes = job_timeline(
        path, timeline, text=text, asr_model=asr_model, cache=cache, cache_dir=cache_dir, progress=progress
    )
    lines = sentences([ln for ln in timeline.lines if ln.source.value != "screen" and ln.text.strip()])
    if not lines:  # no speech or subtitles: the screen text is what there is
        lines = [ln for ln in timeline.lines if ln.text.strip()]
    if not lines:
        notes.append(f"{path}: no timed text to search")
        return Located(str(path), q, (), tuple(notes))
    clips = clip_ranges(len(lines), cfg.clip_lines)
    texts = [q] + [ln.text for ln in lines] + [" ".join(ln.text for ln in lines[a:b]) for a, b in clips]
    emb = _embed(texts, embedder)
    line_sim = emb[1 : 1 + len(lines)] @ emb[0]
    clip_sim = emb[1 + len(lines) :] @ emb[0]
    spans = []
    for found in find_spans(line_sim, clips, clip_sim, cfg):
        evidence = tuple(
            Evidence(lines[i].start_s, lines[i].end_s, lines[i].text, lines[i].source.value, s)
            for i, s in found.line_scores
        )
        spans.append(Span(lines[found.first].start_s, lines[found.last].end_s, found.score, evidence))
    return Located(str(path), q, tuple(spans), tuple(notes))


def _embed(texts: list[str], embedder: Embedder | None) -> np.ndarray:
    if embedder is None:
        from videopipe.embedders.text import TextEmbedder

        embedder = TextEmbedder()
    if embedder.modality == "image":
        raise ConfigError(f"locate needs a text embedder, got {embedder!r} (image only)")
    return embedder.embed_texts(texts).numpy()
