"""The per-video work of indexing: hash the video's content, then -- unless the index holds
that content already (:class:`KnownContent`) -- probe and segment, read the text (subtitles,
speech, screen), caption and embed the clips of one video, into a :class:`VideoClips`.

It runs where the executor puts it -- in the indexing process (``--workers 1``), in a local
worker process or on a Ray actor -- and depends only on the video and the resolved index
options; the index writer (in the driver, :func:`~videopipe.retrieval.indexer.index_paths`)
commits the result. :class:`VideoClips` and :class:`KnownContent` are what cross the process
boundary: plain arrays and strings, and the seconds each stage took. The driver hands out
videos by path (it only reads their size and mtime); the worker learns the content key by
hashing (:func:`work_video`), so hashing a large archive runs on every worker, not serially
before the first video starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videopipe.retrieval.encode import Captioner, captioner_name, embed_clips, run_captioner
from videopipe.retrieval.segment import Span
from videopipe.retrieval.store import LineTable, content_key
from videopipe.text.build import TextProgress, load_timeline
from videopipe.text.screen import OCRConfig
from videopipe.text.speech import ASRConfig
from videopipe.text.subtitles import find_sidecar
from videopipe.text.timeline import TextLine, TextSource

if TYPE_CHECKING:
    from videopipe.retrieval.indexer import ResolvedIndexOptions

__all__ = ["STAGES", "KnownContent", "ModelsOnce", "VideoClips", "index_video", "load_models", "work_video"]

#: the per-video stages, in order (the keys of ``VideoClips.stage_s``); ``load``, loading the
#: models once per worker, is counted apart (:func:`load_models`)
STAGES = ("hash", "segment", "text", "caption", "embed")


@dataclass(frozen=True)
class VideoClips:
    """The clips of one video as a worker computed them, for the index writer: ``key`` is the
    content key the driver asked for; ``duration_s`` the media covered (the last clip's end);
    ``stage_s`` the seconds of each of :data:`STAGES`."""

    path: str
    key: str
    starts_s: np.ndarray
    ends_s: np.ndarray
    texts: list[str]
    vectors: np.ndarray
    sources: list[str]
    lines: LineTable
    duration_s: float
    stage_s: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


@dataclass(frozen=True)
class KnownContent:
    """A video whose content (``key``) the index holds already: hashed, nothing else done."""

    path: str
    key: str
    stage_s: dict[str, float] = field(default_factory=dict)


def work_video(
    video: Path,
    known: Container[str],
    opts: ResolvedIndexOptions,
    *,
    before_embed: Callable[[], None] | None = None,
    text_progress: TextProgress | None = None,
    threads: int = 0,
) -> VideoClips | KnownContent:
    """Hash ``video`` (and its subtitle sidecar); a content key in ``known`` (the index's
    segments) is a :class:`KnownContent`, any other is indexed (:func:`index_video`, after
    ``before_embed``: loading the models when the first video needs them)."""
    t0 = time.perf_counter()
    side = find_sidecar(video)
    key = content_key(video, side)
    hash_s = time.perf_counter() - t0
    if key in known:
        return KnownContent(str(video), key, {"hash": hash_s})
    if before_embed is not None:
        before_embed()
    clips = index_video(video, key, side, opts, text_progress=text_progress, threads=threads)
    clips.stage_s["hash"] = hash_s
    return clips


class _TimedCaptioner:
    """Wraps a captioner to count its seconds apart from the embedding's (it passes each
    clip's lines on to a captioner that reads them)."""

    def __init__(self, captioner: Captioner) -> None:
        self.captioner = captioner
        self.name = captioner_name(captioner)
        self.seconds = 0.0

    def __call__(self, video: Path, spans: list[Span]) -> Sequence[str]:
        return self.caption_lines(video, spans, [() for _ in spans])

    def caption_lines(
        self, video: Path, spans: list[Span], lines: Sequence[Sequence[TextLine]]
    ) -> Sequence[str]:
        t0 = time.perf_counter()
        try:
            return run_captioner(self.captioner, video, spans, lines)
        finally:
            self.seconds += time.perf_counter() - t0


def load_models(opts: ResolvedIndexOptions, *, threads: int = 0, embedder: bool = True) -> float:
    """Load the speech model and (``embedder``) the embedder's weights now -- they load on
    first use -- so that the per-video seconds are the videos' own; the seconds it took. A text
    embedder is warmed with one text (not done to an embedder object the caller gave)."""
    t0 = time.perf_counter()
    if TextSource.speech in opts.sources:
        from videopipe.text.speech import load_asr_model

        load_asr_model(ASRConfig(model=opts.asr_model, cpu_threads=threads))
    if embedder and opts.embedder.modality == "text":
        opts.embedder.embed_texts(["warm up"])
    return time.perf_counter() - t0


class ModelsOnce:
    """:func:`load_models` when the first video needs them (a run of touched or copied videos
    loads none); :meth:`take_seconds` hands the seconds it took to one video's ``stage_s``."""

    def __init__(self, opts: ResolvedIndexOptions, *, threads: int = 0, embedder: bool = True) -> None:
        self.opts, self.threads, self.embedder = opts, threads, embedder
        self.loaded, self.seconds = False, 0.0

    def load(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        t0 = time.perf_counter()
        try:
            load_models(self.opts, threads=self.threads, embedder=self.embedder)
        except Exception:  # noqa: BLE001 - a model that cannot load fails each video that needs it
            pass
        self.seconds = time.perf_counter() - t0

    def take_seconds(self) -> dict[str, float]:
        """``{"load": seconds}`` once, after the models loaded; then ``{}``."""
        out = {"load": self.seconds} if self.seconds else {}
        self.seconds = 0.0
        return out


def index_video(
    video: Path,
    key: str,
    sidecar: Path | None,
    opts: ResolvedIndexOptions,
    *,
    text_progress: TextProgress | None = None,
    threads: int = 0,
) -> VideoClips:
    """Segment, read the text of, caption and embed ``video`` (content ``key``, subtitle file
    ``sidecar``) as ``opts`` say. ``threads``: the CPU threads of the speech and OCR models (0:
    their defaults; an executor gives each worker its share of the cores)."""
    t0 = time.perf_counter()
    spans = opts.segmenter.segment(video)
    t1 = time.perf_counter()
    speech, screen = TextSource.speech in opts.sources, TextSource.screen in opts.sources
    timeline = load_timeline(
        video,
        opts.sources,
        asr=ASRConfig(model=opts.asr_model, cpu_threads=threads) if speech else None,
        ocr=OCRConfig(threads=threads) if screen else None,
        subtitles=sidecar,
        subtitles_win=opts.subtitles_win,
        progress=text_progress,
    )
    t2 = time.perf_counter()
    captioner = _TimedCaptioner(opts.captioner) if opts.captioner is not None else None
    enc = embed_clips(
        video,
        spans,
        opts.embedder,
        frames_per_clip=opts.frames_per_clip,
        timeline=timeline,
        captioner=captioner,
    )
    t3 = time.perf_counter()
    caption_s = captioner.seconds if captioner is not None else 0.0
    return VideoClips(
        path=str(video),
        key=key,
        starts_s=enc.starts_s,
        ends_s=enc.ends_s,
        texts=enc.texts,
        vectors=enc.vectors,
        sources=enc.sources,
        lines=LineTable.of(timeline.lines),
        duration_s=max((s.end_s for s in spans), default=0.0),
        stage_s={"segment": t1 - t0, "text": t2 - t1, "caption": caption_s, "embed": t3 - t2 - caption_s},
    )
