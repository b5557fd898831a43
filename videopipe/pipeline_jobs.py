"""The long-video jobs on a pipeline's timed text and model: ``Pipeline.chapters``, ``locate``
and ``summarize``, thin calls of :mod:`videopipe.chapters`, :mod:`videopipe.locate` and
:mod:`videopipe.summarize`. :class:`LongVideoJobs` is mixed into
:class:`videopipe.pipeline.Pipeline`, which provides what it declares.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videopipe.chapters.types import Chapters
    from videopipe.config import PipelineConfig
    from videopipe.locate.types import Located
    from videopipe.protocols import VideoLLM
    from videopipe.summarize.types import Summary
    from videopipe.text.timeline import Timeline

__all__ = ["LongVideoJobs"]


class LongVideoJobs:
    """``chapters``, ``locate`` and ``summarize`` over the pipeline's :meth:`timeline` (its
    ``--text`` sources, cached) and, for ``summarize``, its :attr:`model`."""

    config: PipelineConfig
    model: VideoLLM
    timeline: Callable[[str | Path], Timeline | None]

    def chapters(self, video: str | Path, **options: Any) -> Chapters:
        """:func:`videopipe.chapters.find_chapters` with this pipeline's timed text."""
        from videopipe.chapters.job import find_chapters

        return find_chapters(video, timeline=self.timeline(video), **options)

    def locate(self, video: str | Path, query: str, **options: Any) -> Located:
        """:func:`videopipe.locate.locate` with this pipeline's timed text."""
        from videopipe.locate.job import locate

        return locate(video, query, timeline=self.timeline(video), **options)

    def summarize(self, video: str | Path, **options: Any) -> Summary:
        """:func:`videopipe.summarize.summarize` with this pipeline's model and timed text."""
        from videopipe.summarize.job import summarize

        timeline = self.timeline(video)
        return summarize(
            video, model=self.model, timeline=timeline, cache_dir=self.config.resolved_cache_dir(), **options
        )
