"""The records one question's path hands from step to step in :class:`videopipe.pipeline.Pipeline`.

Per video: :meth:`~videopipe.pipeline.Pipeline.select_and_decode` returns a :data:`Decoded`,
which is one of two things, matched by type: a :class:`CachedVideo` (the token cache holds the
video's tokens: nothing was decoded) or a :class:`DecodedVideo` (the selected frames);
:meth:`~videopipe.pipeline.Pipeline.prepare_from` turns it into a :class:`Prepared`. Per
question, :meth:`~videopipe.pipeline.Pipeline.answer` runs named steps
(``videopipe.answer_steps``) that return :class:`Compressed`, :class:`PromptText` and
:class:`Generated`; retrieval returns :class:`Restricted`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import torch

    from videopipe.model_records import Generation, ModelFacts, Turn
    from videopipe.protocols import VideoReader
    from videopipe.spans import SpanView
    from videopipe.text.timeline import TextLine, Timeline
    from videopipe.types import Frames, Selection, VideoInfo, VisualTokens

__all__ = [
    "CachedVideo",
    "Compressed",
    "Decoded",
    "DecodedVideo",
    "Generated",
    "Prepared",
    "PromptText",
    "Restricted",
    "StageTimer",
]


class StageTimer:
    """Seconds per stage (``with timer.stage("decode"): ...`` adds up)."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(seconds or {})

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


@dataclass
class Prepared:
    """A video after the CPU/GPU-heavy stages, ready for questions: the selected frames'
    visual tokens (uncompressed) and what it cost. Produced by ``Pipeline.prepare``."""

    video: str
    tokens: VisualTokens
    selection: Selection
    frames_decoded: int
    seconds: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    timeline: Timeline | None = None  # the video's timed text (None: --text none)


@dataclass(frozen=True)
class CachedVideo:
    """The CPU stage's result for a video whose tokens the token cache holds: nothing was
    decoded; the model stage loads the tokens (and the selection) by ``cache_key``.

    video:     the checked path
    facts:     the model facts the cache entry was looked up for (checked by the model stage)
    cache_key: the token-cache key
    seconds:   time per stage so far (``cache``, ``text``)
    timeline:  the video's timed text from the chosen sources (None: ``--text none``)
    """

    video: str
    facts: ModelFacts
    cache_key: str
    seconds: dict[str, float] = field(default_factory=dict)
    timeline: Timeline | None = None

    #: the token cache holds this video (a :class:`DecodedVideo` says False)
    cached: ClassVar[bool] = True

    @property
    def groups(self) -> tuple[Frames, ...]:
        """No frames: nothing was decoded."""
        return ()

    @property
    def frames_decoded(self) -> int:
        return 0


@dataclass(frozen=True)
class DecodedVideo:
    """A video after the CPU stage: the selected clips' frames, ready for the model. Picklable
    (host numpy frames), so a decode worker can hand it to a model worker.

    video:          the checked path
    groups:         the selected frames, one ``Frames`` per frame size, in time order, tagged
                    with clip ids
    selection:      what the sampler chose
    info:           the video's ``VideoInfo``
    frames_decoded: frames decoded by the sampler's probes plus the selected ones
    facts:          the model facts the frames were selected for (checked by the model stage)
    seconds:        time per stage so far (decode, sample, retrieve, text)
    cache_key:      the token-cache key to save the tokens under (None when the cache is off or
                    the selection depends on the question)
    timeline:       the video's timed text from the chosen sources (None: ``--text none``)
    """

    video: str
    groups: tuple[Frames, ...]
    selection: Selection
    info: VideoInfo
    frames_decoded: int
    facts: ModelFacts
    seconds: dict[str, float] = field(default_factory=dict)
    cache_key: str | None = None
    timeline: Timeline | None = None

    #: the token cache held this video (a :class:`CachedVideo` says True)
    cached: ClassVar[bool] = False


#: what the CPU stage returns (match on the type: ``isinstance(d, CachedVideo)``)
Decoded = CachedVideo | DecodedVideo


@dataclass(frozen=True)
class Restricted:
    """What retrieval hands the sampler: ``view``, the reader it samples (the retrieved clips'
    ``spans``, or the whole video when retrieval found nothing: ``spans`` None), and each
    span's retrieval score."""

    view: VideoReader
    spans: SpanView | None = None
    span_scores: list[float] | None = None

    def real(self, selection: Selection) -> Selection:
        """``selection`` of :attr:`view` in the video's own frame numbers and times."""
        if self.spans is None:
            return selection
        return self.spans.to_real(selection, self.span_scores)


@dataclass(frozen=True)
class Compressed:
    """The compress step: the tokens the model answers from, and the question's embedding in
    the model's input space (None when the model cannot embed text), which also ranks the
    evidence."""

    tokens: VisualTokens
    question_embedding: torch.Tensor | None


@dataclass(frozen=True)
class PromptText:
    """The text step: ``prompt`` (the question with the video's lines before it, as the model
    reads them), the ``lines`` chosen from the sampled ``spans``, and their ``text_tokens``;
    ``history``: a conversation's earlier turns the model reads through its chat template
    (``can_converse``; a model that does not converse finds them written in ``prompt``)."""

    prompt: str
    lines: tuple[TextLine, ...]
    spans: tuple[tuple[float, float], ...]
    text_tokens: int
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class Generated:
    """The generate step: the answer ``text``, the seconds to its first piece (the prefill a
    user waits through; None when nothing was generated) and what it cost the language model
    (``generation``: prompt and answer tokens, why it stopped)."""

    text: str
    first_token_s: float | None
    generation: Generation
