"""Timelines written as subtitle files: SubRip (``.srt``) and WebVTT (``.vtt``)."""

from __future__ import annotations

from collections.abc import Sequence

from videopipe.text.timeline import TextLine

__all__ = ["SUBTITLE_FORMATS", "srt_timestamp", "to_srt", "to_vtt"]

SUBTITLE_FORMATS = ("srt", "vtt")


def srt_timestamp(t: float, *, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (``sep="."``: WebVTT's ``HH:MM:SS.mmm``)."""
    ms = max(0, round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(lines: Sequence[TextLine]) -> list[tuple[float, float, str]]:
    # a zero-length line (a word heard at one instant) still needs a visible cue
    return [(ln.start_s, max(ln.end_s, ln.start_s + 0.001), " ".join(ln.text.split())) for ln in lines]


def to_srt(lines: Sequence[TextLine]) -> str:
    """SubRip text of ``lines`` (numbered from 1, in the order given)."""
    return "\n".join(
        f"{i}\n{srt_timestamp(a)} --> {srt_timestamp(b)}\n{text}\n"
        for i, (a, b, text) in enumerate(_cues(lines), 1)
    )


def to_vtt(lines: Sequence[TextLine]) -> str:
    """WebVTT text of ``lines``."""
    body = "\n".join(
        f"{srt_timestamp(a, sep='.')} --> {srt_timestamp(b, sep='.')}\n{text}\n"
        for a, b, text in _cues(lines)
    )
    return "WEBVTT\n\n" + body
