"""videopipe.chapters: a video's chapters from its timed text, slide changes and scene cuts.

:func:`find_chapters` is the one entry point (the CLI's ``videopipe chapters``,
``Pipeline.chapters`` and the server call it); :mod:`~videopipe.chapters.segment` finds the
boundaries (pure numpy), :mod:`~videopipe.chapters.titles` names the chapters and
:mod:`~videopipe.chapters.formats` writes them as YouTube lines, WebVTT or ffmetadata.
"""

from __future__ import annotations

from videopipe.chapters.types import Chapter, Chapters

__all__ = ["Chapter", "Chapters", "find_chapters"]


def __getattr__(name: str) -> object:  # find_chapters imports the decoders: only when used
    if name == "find_chapters":
        from videopipe.chapters.job import find_chapters

        return find_chapters
    raise AttributeError(name)
