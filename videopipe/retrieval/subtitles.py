"""Subtitles of a video: sidecar ``.srt``/``.vtt`` files or embedded text subtitle streams.

:func:`load_subtitles` returns the cues of a video (time-ordered, plain text, formatting
removed); :func:`text_for_span` is the text of a clip: every cue that overlaps it.

Sidecars are looked up next to the video: ``movie.srt``, ``movie.vtt``, ``movie.ass`` and
language-tagged variants such as ``movie.en.srt`` (the first match in sorted order wins when
there are several). Without a sidecar, the first *text* subtitle stream in the container
(SubRip, ASS, mov_text, WebVTT) is extracted with ffmpeg; bitmap subtitles (DVD, PGS) cannot
be turned into text and are ignored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from videopipe.errors import InputError, MissingDependencyError

SIDECAR_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")
TEXT_SUBTITLE_CODECS = ("subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text")


@dataclass(frozen=True)
class Cue:
    """One subtitle line shown from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    text: str


def parse_subtitles(text: str, *, fmt: str | None = None, source: str = "<string>") -> list[Cue]:
    """Parse SRT/VTT/ASS text into time-ordered cues with formatting tags removed."""
    import pysubs2

    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as e:  # pysubs2 raises several unrelated types on bad input
        raise InputError(f"subtitles {source} cannot be parsed ({type(e).__name__}: {e})") from None
    cues = []
    for ev in subs:
        if ev.is_comment:
            continue
        plain = " ".join(ev.plaintext.split())
        if plain and ev.end > ev.start:
            cues.append(Cue(ev.start / 1000.0, ev.end / 1000.0, plain))
    cues.sort(key=lambda c: (c.start_s, c.end_s))
    return cues


def find_sidecar(video: str | Path) -> Path | None:
    """The subtitle file next to ``video`` (``name.srt``, ``name.en.vtt``, ...), or None."""
    v = Path(video)
    exact = [v.with_suffix(s) for s in SIDECAR_SUFFIXES]
    for p in exact:
        if p.is_file():
            return p
    tagged = sorted(
        p
        for p in v.parent.glob(f"{_glob_escape(v.stem)}.*")
        if p.suffix.lower() in SIDECAR_SUFFIXES and p.is_file()
    )
    return tagged[0] if tagged else None


def _glob_escape(s: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in s)


def _ffprobe_text_subtitle_stream(video: Path) -> int | None:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise MissingDependencyError("ffprobe is not installed (Debian/Ubuntu: sudo apt-get install ffmpeg)")
    r = subprocess.run(
        [
            exe,
            "-v",
            "error",
            "-select_streams",
            "s",
            "-show_entries",
            "stream=index,codec_name",
            "-of",
            "json",
        ]
        + [str(video)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return None
    for i, s in enumerate(json.loads(r.stdout or "{}").get("streams", [])):
        if s.get("codec_name") in TEXT_SUBTITLE_CODECS:
            return i
    return None


def extract_embedded(video: str | Path) -> list[Cue]:
    """Cues of the first text subtitle stream inside ``video`` (empty list when it has none)."""
    v = Path(video)
    k = _ffprobe_text_subtitle_stream(v)
    if k is None:
        return []
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MissingDependencyError("ffmpeg is not installed (Debian/Ubuntu: sudo apt-get install ffmpeg)")
    r = subprocess.run(
        [exe, "-v", "error", "-i", str(v), "-map", f"0:s:{k}", "-f", "srt", "-"],
        capture_output=True,
    )
    if r.returncode != 0:
        return []
    return parse_subtitles(
        r.stdout.decode("utf-8", errors="replace"), fmt="srt", source=f"{v} (stream s:{k})"
    )


def load_subtitles(video: str | Path, *, subtitles: str | Path | None = None) -> list[Cue]:
    """The cues of ``video``: from ``subtitles`` if given, else a sidecar file, else an embedded
    text subtitle stream; an empty list when there are none."""
    path = Path(subtitles) if subtitles is not None else find_sidecar(video)
    if path is not None:
        if not path.is_file():
            raise InputError(f"subtitle file {path} does not exist")
        raw = path.read_bytes().decode("utf-8-sig", errors="replace")
        return parse_subtitles(raw, source=str(path))
    return extract_embedded(video)


def text_for_span(cues: Sequence[Cue], start_s: float, end_s: float) -> str:
    """The text of every cue overlapping [start_s, end_s), in time order, joined by spaces."""
    return " ".join(c.text for c in cues if c.start_s < end_s and c.end_s > start_s)
