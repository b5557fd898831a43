"""Probe a video file with ffprobe: which stream is the video, its codec,
size, rotation and frame rate as the container header states them.

Also the one place that checks a path before any decoder touches it, so every backend fails
the same way on a missing file, a directory, an empty file or a file that is not a video,
and, under the opening policy of :mod:`videopipe.decode.safe_open`, on a playlist or script
that names other files (every backend opens only files this probe accepted).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videopipe.decode.safe_open import (
    ffmpeg_bin,
    ffmpeg_input_args,
    ffprobe_bin,
    media_url,
    refusal,
    refused_format,
)
from videopipe.errors import (
    DecodeError,
    UnsupportedVideoError,
    VideoNotFoundError,
    file_problem,
)
from videopipe.fingerprint import FileMemo

__all__ = ["ProbeResult", "check_path", "probe", "ffmpeg_bin", "ffprobe_bin"]


@dataclass(frozen=True)
class ProbeResult:
    """What the container header says about the first video stream."""

    path: str
    stream_index: int  # absolute stream index in the container
    video_ordinal: int  # position among the video streams (PyAV's ``streams.video[i]``)
    codec: str
    width: int  # coded frame size, before rotation
    height: int
    rotation: int  # counter-clockwise degrees for display (ffprobe's display matrix), 0/90/180/270
    avg_fps: float
    r_fps: float
    duration_s: float
    nb_frames: int  # the header's frame count (0 when absent); not trusted for num_frames
    has_audio: bool
    format_name: str
    has_b_frames: bool = False  # the stream reorders frames (B-frames)


def check_path(path: str | Path) -> Path:
    """The path as a Path, or a specific error when it cannot be a video file."""
    p = Path(path).expanduser()
    try:
        p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise VideoNotFoundError(f"{p}: no such file; check the path") from None
    except OSError as e:  # a name too long, a loop of links, no permission on a folder
        raise VideoNotFoundError(f"{p}: cannot be opened ({e.strerror or e}); check the path") from None
    if p.is_dir():
        raise VideoNotFoundError(f"{p}: is a directory, not a video file; pass a video file inside it")
    if not p.is_file():
        raise VideoNotFoundError(f"{p}: {file_problem(p)}; pass a video file")
    if p.stat().st_size == 0:
        raise DecodeError(f"{p}: the file is empty (0 bytes); re-download or re-encode it")
    return p


def _fraction(s: Any) -> float:
    try:
        f = Fraction(str(s))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(f) if f > 0 else 0.0


def _rotation(stream: dict[str, Any]) -> int:
    """Display rotation (counter-clockwise degrees, multiple of 90) from the display matrix
    side data, or the legacy ``rotate`` tag."""
    deg: float | None = None
    for sd in stream.get("side_data_list", []) or []:
        if "rotation" in sd:
            deg = float(sd["rotation"])
            break
    if deg is None:
        tag = (stream.get("tags") or {}).get("rotate")
        if tag is not None:
            try:
                # the legacy tag is clockwise; the display matrix is counter-clockwise
                deg = -float(tag)
            except ValueError:
                deg = None
    if deg is None or not math.isfinite(deg):
        return 0
    return int(round(deg / 90.0)) * 90 % 360


_LOG_PREFIX = re.compile(r"^\s*\[[^\]]*@\s*0x[0-9a-fA-F]+\]\s*")


def _clean_ffmpeg_line(line: str, path: Path) -> str:
    """An ffmpeg log line without its ``[demuxer @ 0x55...]`` prefix and without the path
    (the error names the file once, at its start)."""
    line = _LOG_PREFIX.sub("", line.strip())
    for prefix in (media_url(path) + ": ", str(path) + ": ", path.name + ": "):
        line = line.replace(prefix, "")
    return line or "ffprobe failed"


_PROBES = FileMemo()


def probe(path: str | Path) -> ProbeResult:
    """ffprobe ``path`` and describe its first video stream (skipping attached cover pictures,
    and audio streams that come before the video). Remembered while the file is unchanged."""
    p = check_path(path)
    return _PROBES.cached(FileMemo.key(p), lambda: _probe(p))


def _probe(p: Path) -> ProbeResult:
    cmd = [ffprobe_bin(), "-hide_banner", "-v", "error", "-show_format", "-show_streams", "-of", "json"]
    r = subprocess.run(
        [*cmd, *ffmpeg_input_args(), media_url(p)], capture_output=True, text=True, errors="replace"
    )
    fmt = refused_format(r.stderr)
    if fmt is not None:
        raise refusal(p, fmt)
    try:
        info = json.loads(r.stdout or "{}") if r.returncode == 0 else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        msg = r.stderr.strip().splitlines()
        lines = list(dict.fromkeys(_clean_ffmpeg_line(m, p) for m in msg if m.strip()))
        why = "; ".join(lines[-2:]) if lines else "ffprobe failed"
        raise DecodeError(
            f"{p}: not a readable video file (ffprobe: {why}); check that it is a complete video "
            "file, or re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)"
        ) from None
    streams = info.get("streams", [])
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    if not videos:
        covers = [s for s in streams if s.get("codec_type") == "video"]
        kinds = sorted({s.get("codec_type", "?") for s in streams if s not in covers}) or ["none"]
        if covers:
            raise UnsupportedVideoError(
                f"{p}: has no video stream, only cover art (an attached picture; other streams: "
                f"{', '.join(kinds)}); pass a file with a video track"
            )
        raise UnsupportedVideoError(
            f"{p}: has no video stream (streams: {', '.join(kinds)}); pass a file with a video track"
        )
    v = videos[0]
    ordinal = [s for s in streams if s.get("codec_type") == "video"].index(v)
    fmt = info.get("format", {}) or {}
    duration = _fraction(v.get("duration")) or _fraction(fmt.get("duration"))
    try:
        nb = int(v.get("nb_frames", 0) or 0)
    except ValueError:
        nb = 0
    return ProbeResult(
        path=str(p),
        stream_index=int(v["index"]),
        video_ordinal=ordinal,
        codec=str(v.get("codec_name", "unknown")),
        width=int(v.get("width", 0) or 0),
        height=int(v.get("height", 0) or 0),
        rotation=_rotation(v),
        avg_fps=_fraction(v.get("avg_frame_rate")),
        r_fps=_fraction(v.get("r_frame_rate")),
        duration_s=duration,
        nb_frames=nb,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        format_name=str(fmt.get("format_name", "")),
        has_b_frames=int(v.get("has_b_frames", 0) or 0) > 0,
    )
