"""Turn a video's clips into vectors with an embedder.

Text-space embedders (``embedder.modality == "text"``, e.g. ``text``) embed each clip's
text: the lines of the video's text timeline (subtitles, transcribed speech, screen text;
see :mod:`videopipe.text`) that overlap the clip, plus a caption per clip when a
``captioner`` is given; clips without any text get no vector, since an empty text says
nothing about the clip. Image-text embedders (``clip``, the video LLM's vision tower) embed
``frames_per_clip`` frames spread evenly over each clip and average them (then
re-normalise); the clip's text, if any, is kept for display.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from videopipe.errors import InputError
from videopipe.retrieval.segment import Span
from videopipe.text.timeline import TextLine, TextSource, Timeline

CaptionFn = Callable[[Path, list[Span]], Sequence[str]]
"""A captioning hook: (video, clip spans) -> one caption per span. Captions are appended to
the clip's subtitle text, so text-space embedders index what a captioning model saw."""


@runtime_checkable
class NamedCaptioner(Protocol):
    """A captioning hook with a ``name``, which an index records (a different name re-embeds);
    a plain function is named by its qualified name."""

    name: str

    def __call__(self, video: Path, spans: list[Span]) -> Sequence[str]: ...


@runtime_checkable
class LineCaptioner(Protocol):
    """A named captioner that also reads each clip's own lines (the timed text the index has
    for the clip): :meth:`caption_lines` is called instead of the plain call. A video LLM that
    describes a clip from its frames and lines, as ``summarize`` describes a chunk, shares one
    cached description with it (:class:`~videopipe.retrieval.captions.LLMCaptioner`)."""

    name: str

    def __call__(self, video: Path, spans: list[Span]) -> Sequence[str]: ...

    def caption_lines(
        self, video: Path, spans: list[Span], lines: Sequence[Sequence[TextLine]]
    ) -> Sequence[str]: ...


Captioner = NamedCaptioner | CaptionFn


def run_captioner(
    captioner: Captioner, video: Path, spans: list[Span], lines: Sequence[Sequence[TextLine]]
) -> Sequence[str]:
    """One caption per span from ``captioner`` (with each span's ``lines`` when it reads them)."""
    if isinstance(captioner, LineCaptioner):
        return captioner.caption_lines(video, spans, lines)
    return captioner(video, spans)


def captioner_name(captioner: Captioner | None) -> str:
    """What an index records for ``captioner`` ("" for none)."""
    if captioner is None:
        return ""
    if isinstance(captioner, NamedCaptioner):
        return str(captioner.name)
    if inspect.isfunction(captioner) or inspect.ismethod(captioner):
        return captioner.__qualname__
    return type(captioner).__qualname__


@dataclass(frozen=True)
class EncodedClips:
    """The clips of one video that got a vector: spans, texts and unit vectors [n, dim]."""

    starts_s: np.ndarray
    ends_s: np.ndarray
    texts: list[str]
    vectors: np.ndarray
    sources: list[str] = field(default_factory=list)  # per clip: where its text came from

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def embedder_modality(embedder: Any) -> str:
    """``"text"`` for embedders with no image space, else ``"image"``."""
    return str(embedder.modality)


def clip_frame_times(span: Span, frames_per_clip: int) -> list[float]:
    """Centres of ``frames_per_clip`` equal parts of the span."""
    step = (span.end_s - span.start_s) / frames_per_clip
    return [span.start_s + (i + 0.5) * step for i in range(frames_per_clip)]


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_clips(
    video: str | Path,
    spans: Sequence[Span],
    embedder: Any,
    *,
    frames_per_clip: int = 4,
    size_px: int = 224,
    timeline: Timeline | None = None,
    captioner: Captioner | None = None,
) -> EncodedClips:
    """Vectors for the ``spans`` of ``video`` (see the module docstring for what is embedded).
    ``timeline``: the video's text (None: its subtitles only)."""
    if timeline is None:
        from videopipe.text.build import load_timeline

        timeline = load_timeline(video, "subtitles")
    per_span = [timeline.between(s.start_s, s.end_s) for s in spans]
    texts = [" ".join(ln.text for ln in lines) for lines in per_span]
    sources = [line_sources(lines) for lines in per_span]
    if captioner is not None:
        captions = list(run_captioner(captioner, Path(video), list(spans), per_span))
        if len(captions) != len(spans):
            raise InputError(f"captioner returned {len(captions)} captions for {len(spans)} clips of {video}")
        texts = [" ".join(p for p in (t, str(c).strip()) if p) for t, c in zip(texts, captions)]
        sources = [
            ",".join(p for p in (s, "caption" if str(c).strip() else "") if p)
            for s, c in zip(sources, captions)
        ]
    if embedder_modality(embedder) == "text":
        keep = [i for i, t in enumerate(texts) if t]
        vecs = (
            embedder.embed_texts([texts[i] for i in keep]).float().numpy()
            if keep
            else np.zeros((0, int(embedder.dim)), np.float32)
        )
    else:
        keep = list(range(len(spans)))
        vecs = _embed_frames(video, spans, embedder, frames_per_clip=frames_per_clip, size_px=size_px)
    return EncodedClips(
        starts_s=np.array([spans[i].start_s for i in keep], np.float64),
        ends_s=np.array([spans[i].end_s for i in keep], np.float64),
        texts=[texts[i] for i in keep],
        vectors=_normalise(np.asarray(vecs, np.float32).reshape(len(keep), int(embedder.dim))),
        sources=[sources[i] for i in keep],
    )


def line_sources(lines: Sequence[TextLine]) -> str:
    """The sources of ``lines``, comma-joined in :class:`TextSource` order ("" for none)."""
    present = {str(ln.source) for ln in lines}
    return ",".join(s.value for s in TextSource if s.value in present)


def _embed_frames(
    video: str | Path, spans: Sequence[Span], embedder: Any, *, frames_per_clip: int, size_px: int
) -> np.ndarray:
    """Mean of the frame embeddings of each span -> [len(spans), dim] (not yet normalised)."""
    from videopipe.decode import open_video

    out = []
    with open_video(video) as reader:
        last_t = max(0.0, reader.info.duration_s - 1e-3)
        for span in spans:
            times = [min(t, last_t) for t in clip_frame_times(span, frames_per_clip)]
            frames = reader.frames_at_times(times, size=size_px)
            emb = embedder.embed_images(frames.data).float().numpy()
            out.append(emb.mean(axis=0))
    return np.stack(out) if out else np.zeros((0, int(embedder.dim)), np.float32)
