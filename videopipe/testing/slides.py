"""A slides video whose written content is known: titles drawn with ffmpeg ``drawtext`` on one
background, each shown for its own length of time; cached on disk like
:mod:`videopipe.testing.videos`.

:func:`make_slides_video` returns the file and the :class:`Slide` s (title, body, true start
and end). Keyframes are every ``gop_s`` seconds and x264's scene-cut detection is off, so slide
changes do not fall on keyframes: finding them is the reader's work, not the encoder's. The
slide held longest gets a coloured box half-way through (the picture changes, the text does
not), which a screen-text reader must merge back into one line.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from videopipe.decode.probe import ffmpeg_bin
from videopipe.testing.videos import video_cache_dir

__all__ = ["SLIDE_TITLES", "Slide", "default_slides", "make_slides_video"]

_VERSION = 1

#: (title, body line); every title is distinct
SLIDE_TITLES: tuple[tuple[str, str], ...] = (
    ("Quarterly Revenue Growth", "Sales rose in every region"),
    ("Customer Churn Analysis", "Why subscribers leave"),
    ("Solar Panel Efficiency", "Output per square metre"),
    ("Database Index Tuning", "Faster queries with btrees"),
    ("Marine Biology Field Trip", "Tide pools and crabs"),
    ("Hiring Plan Next Year", "Twelve engineers and two designers"),
    ("Kitchen Safety Rules", "Knives point away from you"),
    ("Medieval Castle Design", "Moats walls and towers"),
    ("Rocket Engine Testing", "Static fire on the stand"),
    ("Coffee Supply Chain", "From farm to cup"),
    ("Password Security Basics", "Long phrases beat symbols"),
    ("Urban Bicycle Lanes", "Protected routes downtown"),
    ("Volcano Monitoring Network", "Seismic sensors on the rim"),
    ("Budget Travel Tips", "Book trains early"),
    ("Closing Remarks", "Thank you and questions"),
    ("Appendix Reference Tables", "Extra data for readers"),
)

#: seconds each slide is shown (different lengths; the longest is held for a minute)
_DURATIONS = (7.0, 4.0, 12.0, 5.0, 60.0, 3.5, 9.0, 6.0, 15.0, 4.5, 8.0, 5.5, 11.0, 3.0, 6.5, 10.0)


@dataclass(frozen=True)
class Slide:
    start_s: float
    end_s: float
    title: str
    body: str


def default_slides() -> list[Slide]:
    """The 16 slides of :data:`SLIDE_TITLES` with :data:`_DURATIONS`, back to back from 0."""
    out, t = [], 0.0
    for (title, body), d in zip(SLIDE_TITLES, _DURATIONS):
        out.append(Slide(t, t + d, title, body))
        t += d
    return out


def _font() -> str | None:
    fc = shutil.which("fc-match")
    if fc:
        r = subprocess.run([fc, "-f", "%{file}", "DejaVu Sans:bold"], capture_output=True, text=True)
        if r.returncode == 0 and Path(r.stdout).is_file():
            return r.stdout
    return None


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019").replace(",", "\\,")


def make_slides_video(
    slides: Sequence[Slide] | None = None,
    *,
    size: tuple[int, int] = (640, 360),
    fps: int = 5,
    gop_s: float = 10.0,
    cache_dir: Path | None = None,
) -> tuple[Path, list[Slide]]:
    """Render ``slides`` (default :func:`default_slides`) to an H.264 mp4 and return it with
    the slides. Cached by the arguments."""
    slides = list(slides or default_slides())
    w, h = size
    duration = max(s.end_s for s in slides)
    params = dict(v=_VERSION, s=[asdict(s) for s in slides], size=size, fps=fps, gop=gop_s)
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    out_dir = cache_dir or video_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"slides-{key}.mp4"
    with FileLock(str(path) + ".lock"):
        if path.is_file() and path.stat().st_size > 0:
            return path, slides
        font = _font()
        fontarg = f"fontfile='{font}':" if font else ""
        filters = []
        longest = max(slides, key=lambda s: s.end_s - s.start_s)
        for s in slides:
            on = f"enable='between(t,{s.start_s:.3f},{s.end_s - 1e-3:.3f})'"
            filters.append(
                f"drawtext={fontarg}text='{_esc(s.title)}':fontsize={h // 9}:fontcolor=white:"
                f"x=(w-text_w)/2:y=h/4:{on}"
            )
            filters.append(
                f"drawtext={fontarg}text='{_esc(s.body)}':fontsize={h // 16}:fontcolor=0xdddddd:"
                f"x=(w-text_w)/2:y=h/2+h/10:{on}"
            )
        mid = (longest.start_s + longest.end_s) / 2
        filters.append(
            f"drawbox=x={w // 20}:y={h - h // 5}:w={w // 6}:h={h // 8}:color=orange:t=fill:"
            f"enable='between(t,{mid:.3f},{longest.end_s - 1e-3:.3f})'"
        )
        tmp = path.with_name(path.stem + ".tmp.mp4")
        cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
        cmd += ["-i", f"color=c=0x1f3a5f:s={w}x{h}:r={fps}:d={duration}", "-vf", ",".join(filters)]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        cmd += ["-g", str(round(gop_s * fps)), "-keyint_min", str(round(gop_s * fps)), "-sc_threshold", "0"]
        cmd += [str(tmp)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg failed to make {path.name}: {r.stderr.strip()[-400:]}")
        tmp.replace(path)
        return path, slides
