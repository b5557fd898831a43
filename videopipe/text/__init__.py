"""videopipe.text: the text evidence of a video (subtitles, speech, screen text) as one timed
:class:`Timeline`. Reads media, knows no model; feeds retrieval and the prompt.

Importing this package is cheap: faster-whisper, rapidocr and PyAV load only when speech or
screen text is actually read.
"""

from __future__ import annotations

from videopipe.text.build import DEFAULT_TEXT_SOURCES, load_timeline, merge_sources, parse_text_sources
from videopipe.text.timeline import TextLine, TextSource, Timeline

__all__ = [
    "DEFAULT_TEXT_SOURCES",
    "TextLine",
    "TextSource",
    "Timeline",
    "load_timeline",
    "merge_sources",
    "parse_text_sources",
]
