"""Tiny videos with subtitles, for retrieval tests and demos.

:func:`make_tiny_video` makes a flat-colour 32x32 H.264 video of a given duration in about a
second even for an hour (1 fps by default: retrieval over subtitles only needs the duration);
:func:`write_srt` writes an ``.srt`` file from ``(start_s, end_s, text)`` cues.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from videopipe.testing.videos import ffmpeg_bin

CueTuple = tuple[float, float, str]


def make_tiny_video(path: str | Path, *, duration_s: float, color: str = "black", fps: str = "1") -> Path:
    """Write a flat ``color`` 32x32 video of ``duration_s`` seconds to ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg_bin(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={color}:s=32x32:r={fps}:d={duration_s}",
        ]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(p)],
        check=True,
    )
    return p


def srt_text(cues: Sequence[CueTuple]) -> str:
    """SubRip text for ``(start_s, end_s, text)`` cues (written as given, even out of order)."""
    from videopipe.text.formats import srt_timestamp as ts

    return "\n".join(f"{i}\n{ts(a)} --> {ts(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1))


def write_srt(path: str | Path, cues: Sequence[CueTuple]) -> Path:
    p = Path(path)
    p.write_text(srt_text(cues), encoding="utf-8")
    return p
