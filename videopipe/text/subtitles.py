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
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from videopipe.decode.probe import ffmpeg_bin, ffprobe_bin
from videopipe.decode.safe_open import ffmpeg_input_args, media_url
from videopipe.errors import InputError, file_problem

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


def _ffprobe_streams(video: Path) -> list[dict]:
    r = subprocess.run(
        [
            ffprobe_bin(),
            "-hide_banner",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,start_time",
            "-of",
            "json",
            *ffmpeg_input_args(),
            media_url(video),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return []
    return list(json.loads(r.stdout or "{}").get("streams", []))


def _first_video_pts_s(video: Path) -> float:
    """PTS of the first video packet (stream ``start_time`` is unreliable in Matroska)."""
    r = subprocess.run(
        [ffprobe_bin(), "-hide_banner", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1"]
        + ["-show_entries", "packet=pts_time", "-of", "csv=p=0", *ffmpeg_input_args(), media_url(video)],
        capture_output=True,
        text=True,
    )
    try:
        return float(r.stdout.split()[0])
    except (IndexError, ValueError):
        return 0.0


def extract_embedded(video: str | Path) -> list[Cue]:
    """Cues of the first text subtitle stream inside ``video`` (empty list when it has none).

    Times are relative to the start of the video stream, like the times of decoded frames
    (ffmpeg is run with ``-copyts`` so it does not shift the cues to start at 0)."""
    v = Path(video)
    streams = _ffprobe_streams(v)
    subs = [s for s in streams if s.get("codec_type") == "subtitle"]
    k = next((i for i, s in enumerate(subs) if s.get("codec_name") in TEXT_SUBTITLE_CODECS), None)
    if k is None:
        return []
    offset = _first_video_pts_s(v)
    r = subprocess.run(
        [ffmpeg_bin(), "-hide_banner", "-v", "error", "-copyts", *ffmpeg_input_args(), "-i", media_url(v)]
        + ["-map", f"0:s:{k}", "-f", "srt", "-"],
        capture_output=True,
    )
    if r.returncode != 0:
        return []
    cues = parse_subtitles(
        r.stdout.decode("utf-8", errors="replace"), fmt="srt", source=f"{v} (stream s:{k})"
    )
    if offset:
        cues = [Cue(max(0.0, c.start_s - offset), max(0.0, c.end_s - offset), c.text) for c in cues]
    return [c for c in cues if c.end_s > c.start_s]


def load_subtitles(video: str | Path, *, subtitles: str | Path | None = None) -> list[Cue]:
    """The cues of ``video``: from ``subtitles`` if given, else a sidecar file, else an embedded
    text subtitle stream; an empty list when there are none."""
    path = Path(subtitles) if subtitles is not None else find_sidecar(video)
    if path is not None:
        if not path.is_file():
            raise InputError(f"subtitle file {path} {file_problem(path)}")
        raw = path.read_bytes().decode("utf-8-sig", errors="replace")
        return parse_subtitles(raw, source=str(path))
    return extract_embedded(video)


def text_for_span(cues: Sequence[Cue], start_s: float, end_s: float) -> str:
    """The text of every cue overlapping [start_s, end_s), in time order, joined by spaces."""
    return " ".join(c.text for c in cues if c.start_s < end_s and c.end_s > start_s)
