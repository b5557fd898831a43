"""Chapters as text: YouTube description lines, WebVTT chapters, ffmetadata.

- **YouTube**: ``00:00 Title`` per line (``h:mm:ss`` once the video reaches an hour); the first
  line is at ``00:00``, as YouTube requires.
- **WebVTT**: a ``WEBVTT`` file whose cues are the chapters (``<track kind="chapters">``).
- **ffmetadata**: ``;FFMETADATA1`` with one ``[CHAPTER]`` per chapter in milliseconds, so
  ``ffmpeg -i in.mp4 -i chapters.txt -map_metadata 1 -c copy out.mp4`` embeds them.
"""

from __future__ import annotations

import re

from videopipe.chapters.types import Chapters

__all__ = ["to_ffmetadata", "to_vtt", "to_youtube"]


def _clock(t: float, *, hours: bool) -> str:
    s = int(max(0.0, t))
    h, m, sec = s // 3600, (s // 60) % 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if hours else f"{m:02d}:{sec:02d}"


def _one_line(title: str) -> str:
    return " ".join(title.split())


def to_youtube(chapters: Chapters) -> str:
    hours = chapters.duration_s >= 3600
    return "".join(f"{_clock(c.start_s, hours=hours)} {_one_line(c.title)}\n" for c in chapters.chapters)


def _vtt_time(t: float) -> str:
    ms = round(max(0.0, t) * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def to_vtt(chapters: Chapters) -> str:
    out = ["WEBVTT", ""]
    for k, c in enumerate(chapters.chapters, 1):
        title = _one_line(c.title).replace("-->", "->")
        out += [f"chapter-{k}", f"{_vtt_time(c.start_s)} --> {_vtt_time(c.end_s)}", title, ""]
    return "\n".join(out)


def _ffescape(value: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", _one_line(value))


def to_ffmetadata(chapters: Chapters) -> str:
    out = [";FFMETADATA1"]
    for c in chapters.chapters:
        start, end = round(c.start_s * 1000), round(c.end_s * 1000)
        out += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={max(end, start + 1)}"]
        out.append(f"title={_ffescape(c.title)}")
    return "\n".join(out) + "\n"
