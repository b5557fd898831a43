"""``find_chapters(video)``: the one function behind ``videopipe chapters``, ``Pipeline.chapters``
and the server; see :mod:`videopipe.chapters.segment` for how boundaries are found."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from videopipe.chapters.segment import SegmentConfig, find_boundaries, gap_scores
from videopipe.chapters.titles import extract_titles
from videopipe.chapters.types import Chapter, Chapters
from videopipe.errors import ConfigError, UnsupportedVideoError

if TYPE_CHECKING:
    from videopipe.models.contract import VideoLLM
    from videopipe.protocols import Embedder
    from videopipe.text.timeline import TextLine, Timeline

__all__ = [
    "TITLE_MODES",
    "chapter_sources",
    "find_chapters",
    "job_timeline",
    "screen_changes",
    "sentences",
    "text_embedder",
]

TITLE_MODES = ("extract", "model")


def chapter_sources(
    spec: str | None = None, *, asr_model: str | None = None
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """The text sources of a chapters run: ``spec`` as ``--text`` takes it; None/``auto``: the
    default sources plus screen text when the ocr extra is installed."""
    from videopipe.text.sources import choose_sources
    from videopipe.text.timeline import TextSource

    chosen = choose_sources(spec, asr_model=asr_model)
    if spec is not None and spec.strip().lower() != "auto":
        return chosen.sources, chosen.notes
    if find_spec("rapidocr_onnxruntime") is None:
        return chosen.sources, (*chosen.notes, "slide changes not used: the ocr extra is not installed")
    return tuple(s for s in TextSource if s in {*chosen.sources, TextSource.screen}), chosen.notes


def job_timeline(
    path: Path,
    timeline: Timeline | None,
    *,
    text: str | None,
    asr_model: str | None,
    cache: bool,
    cache_dir: str | Path | None,
    progress: Callable[[str, float, float], None] | None = None,
) -> tuple[Timeline, list[str]]:
    """The timed text a long-video job (chapters, locate, summarize) works on, and its notes:
    ``timeline`` when the caller has it, else read from the ``text`` sources
    (:func:`chapter_sources`), cached like ``transcribe``."""
    notes: list[str] = []
    if timeline is None:
        from videopipe.text.build import load_timeline
        from videopipe.text.speech import ASRConfig

        sources, more = chapter_sources(text, asr_model=asr_model)
        notes += more
        timeline = load_timeline(
            path, sources, asr=ASRConfig(model=asr_model), cache=cache, cache_dir=cache_dir, progress=progress
        )
    return timeline, notes + list(timeline.notes)


def screen_changes(screen: list[TextLine], emb: np.ndarray) -> list[tuple[float, float]]:
    """(time, novelty) where the screen text changes: 1 where text appears or goes away, else
    1 - cosine of the old and new text (same title, new bullets: small)."""
    out: list[tuple[float, float]] = []
    for i, line in enumerate(screen):
        if i == 0 or line.start_s - screen[i - 1].end_s > 2.0:
            out.append((line.start_s, 1.0))
        else:
            out.append((line.start_s, float(np.clip(1.0 - emb[i] @ emb[i - 1], 0.0, 1.0))))
        if i + 1 == len(screen) or screen[i + 1].start_s - line.end_s > 2.0:
            out.append((line.end_s, 1.0))
    return out


def sentences(lines: list[TextLine], *, join_gap_s: float = 1.0) -> list[TextLine]:
    """Spoken lines joined into sentences: a line that does not end a sentence (no final
    ``.``, ``?`` or ``!``) is joined with the next one when it follows within ``join_gap_s``
    (ASR cuts long sentences into pieces)."""
    from dataclasses import replace

    out: list[TextLine] = []
    for line in lines:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.source == line.source
            and not prev.text.rstrip().endswith((".", "?", "!"))
            and line.start_s - prev.end_s <= join_gap_s
        ):
            out[-1] = replace(
                prev, end_s=max(prev.end_s, line.end_s), text=f"{prev.text.rstrip()} {line.text.strip()}"
            )
        else:
            out.append(line)
    return out


def scene_cut_times(video: Path) -> list[float]:
    """The scene cuts of ``video`` (seconds), from the keyframe sampler's detector."""
    from videopipe.decode import open_video
    from videopipe.samplers.frame_times import check_video
    from videopipe.samplers.keyframe import KeyframeConfig, detect_scenes

    with open_video(video) as reader:
        times = check_video(reader, "chapters")
        scan = detect_scenes(reader, KeyframeConfig(), times)
    return [float(times[c]) for c in scan.cuts]


def find_chapters(
    video: str | Path,
    *,
    timeline: Timeline | None = None,
    text: str | None = None,
    asr_model: str | None = None,
    min_len_s: float = 30.0,
    max_len_s: float = 900.0,
    titles: str = "extract",
    model: VideoLLM | None = None,
    cuts: bool = True,
    embedder: Embedder | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: Callable[[str, float, float], None] | None = None,
) -> Chapters:
    """The chapters of ``video`` (see the package docstring). ``timeline``: its timed text when
    the caller has it, else read from ``text`` sources (cached like ``transcribe``). ``titles``:
    ``extract`` (the central sentence, no model) or ``model`` (``model`` names each chapter from
    its frames and lines)."""
    from videopipe.decode.probe import probe
    from videopipe.request import check_video

    if titles not in TITLE_MODES:
        raise ConfigError(f"--titles {titles!r} is not one of {', '.join(TITLE_MODES)}")
    if titles == "model" and model is None:
        raise ConfigError("--titles model needs a video LLM (--model NAME); --titles extract needs none")
    cfg = SegmentConfig(min_len_s=min_len_s, max_len_s=max_len_s)
    path = check_video(video)
    info = probe(path)
    duration = float(info.duration_s)
    timeline, notes = job_timeline(
        path, timeline, text=text, asr_model=asr_model, cache=cache, cache_dir=cache_dir, progress=progress
    )
    spoken = sentences([ln for ln in timeline.lines if ln.source.value != "screen" and ln.text.strip()])
    screen = [ln for ln in timeline.lines if ln.source.value == "screen" and ln.text.strip()]
    # the spoken sentences are one cache entry (the one ``locate`` reads too), the screen lines another
    embedder = text_embedder(embedder, "chapters") if spoken or screen else embedder
    emb = _embed([ln.text for ln in spoken], embedder, cache=cache, cache_dir=cache_dir)
    emb_screen = _embed([ln.text for ln in screen], embedder, cache=cache, cache_dir=cache_dir)
    cut_times: list[float] = []
    if cuts:
        try:
            cut_times = scene_cut_times(path)
        except UnsupportedVideoError:
            notes.append(f"{path}: no video stream, so no scene cuts")
    starts = np.array([ln.start_s for ln in spoken], dtype=np.float64)
    ends = np.array([ln.end_s for ln in spoken], dtype=np.float64)
    times, scores, signals = gap_scores(
        starts, ends, emb, screen_changes=screen_changes(screen, emb_screen), cuts=cut_times, cfg=cfg
    )
    if not spoken:
        notes.append(f"{path}: no spoken text: chapters only split by length")
    found = find_boundaries(times, scores, signals, duration_s=duration, cfg=cfg)
    edges = [0.0, *(b.time_s for b in found), duration]
    spans = list(zip(edges, edges[1:]))
    if titles == "model":
        from videopipe.summarize.describe import title_spans

        assert model is not None
        names = title_spans(model, path, spans, timeline)
    else:
        groups = [[i for i, ln in enumerate(spoken) if a <= ln.start_s < b] for a, b in spans]
        names = extract_titles(
            [[spoken[i].text for i in g] for g in groups], [emb[g] for g in groups], fallback="Chapter"
        )
    chapters = tuple(
        Chapter(a, b, name, () if k == 0 else found[k - 1].signals)
        for k, ((a, b), name) in enumerate(zip(spans, names))
    )
    return Chapters(str(path), duration, chapters, titles, tuple(notes))


def _embed(
    texts: list[str], embedder: Embedder | None, *, cache: bool, cache_dir: str | Path | None
) -> np.ndarray:
    """The texts' embeddings, cached on disk by the texts and the embedder (a second run over
    the same transcript embeds nothing)."""
    from videopipe.embedders.text_cache import embed_texts_cached

    if not texts or embedder is None:
        return np.zeros((0, 1), dtype=np.float32)
    return embed_texts_cached(embedder, texts, cache=cache, cache_dir=cache_dir)


def text_embedder(embedder: Embedder | None, job: str) -> Embedder:
    """``embedder``, or the default text embedder for None; an error naming ``job`` for an
    image-only one."""
    if embedder is None:
        from videopipe.embedders.text import TextEmbedder

        embedder = TextEmbedder()
    if embedder.modality == "image":
        raise ConfigError(f"{job} needs a text embedder, got {embedder!r} (image only)")
    return embedder
