"""Split a video's timeline into clips (spans) to embed and index.

``fixed``: windows of ``window_s`` seconds that overlap by ``overlap_s`` (a stride of
``window_s - overlap_s``), so an event at a window border is whole in at least one clip. The
last window ends at the video's end; a video shorter than one window is one clip.

``scenes``: one clip per shot, from the scene cuts the ``keyframe`` sampler detects (it
decodes keyframes at 64 px plus the GOPs around candidate cuts, not every frame). Shots
shorter than ``min_scene_s`` join the previous clip; shots longer than ``max_window_s`` are cut
into fixed windows of at most that length.

For ``fixed``, the duration comes from a ``VideoInfo`` when the caller has one, else from
ffprobe (container, then video stream duration) — fixed segmenting never decodes frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.errors import ConfigError, DecodeError

if TYPE_CHECKING:
    from videopipe.types import VideoInfo


@dataclass(frozen=True)
class Span:
    """A clip of a video: [start_s, end_s)."""

    start_s: float
    end_s: float


def _check_lengths(segmentation: object, longest: str, shorter: str, relation: str) -> None:
    """A segmentation's two lengths: ``longest`` a positive number of seconds, ``shorter`` at
    least 0 and ``relation`` (the message's word for less than) the longest."""
    top, low = getattr(segmentation, longest), getattr(segmentation, shorter)
    if not (top > 0 and math.isfinite(top)):
        raise ConfigError(f"{longest} must be a positive number of seconds, got {top}")
    if not (0 <= low < top):
        raise ConfigError(f"{shorter} must be >= 0 and {relation} {longest} ({top}), got {low}")


@dataclass(frozen=True)
class FixedWindows:
    """Fixed-length, overlapping windows."""

    window_s: float = 20.0
    overlap_s: float = 5.0

    def __post_init__(self) -> None:
        _check_lengths(self, "window_s", "overlap_s", "smaller than")

    @property
    def key(self) -> str:
        """Identifies the segmentation (part of an index's configuration)."""
        return f"fixed:w{self.window_s:g}:o{self.overlap_s:g}"

    def spans(self, duration_s: float) -> list[Span]:
        return fixed_windows(duration_s, window_s=self.window_s, overlap_s=self.overlap_s)

    def segment(self, video: str | Path | VideoInfo) -> list[Span]:
        duration = probe_duration_s(video) if isinstance(video, (str, Path)) else video.duration_s
        return self.spans(duration)


@dataclass(frozen=True)
class SceneWindows:
    """One clip per detected shot (merged when short, split when long)."""

    max_window_s: float = 60.0
    min_scene_s: float = 2.0

    def __post_init__(self) -> None:
        _check_lengths(self, "max_window_s", "min_scene_s", "below")

    @property
    def key(self) -> str:
        return f"scenes:max{self.max_window_s:g}:min{self.min_scene_s:g}"

    def segment(self, video: str | Path) -> list[Span]:
        from videopipe.decode import open_video
        from videopipe.samplers.frame_times import check_video
        from videopipe.samplers.keyframe import KeyframeConfig, detect_scenes

        with open_video(video) as reader:
            times = check_video(reader, "scene segmentation")
            cuts = detect_scenes(reader, KeyframeConfig(), times).cuts
            duration = max(float(reader.info.duration_s), float(times[-1]))
        return self.spans_from_cuts([float(times[c]) for c in cuts], duration)

    def spans_from_cuts(self, cut_times_s: list[float], duration_s: float) -> list[Span]:
        """Clips between consecutive cuts (times of the first frame of each new shot)."""
        bounds = [0.0]
        for t in sorted(cut_times_s):
            if t - bounds[-1] >= self.min_scene_s and duration_s - t >= self.min_scene_s:
                bounds.append(t)
        bounds.append(duration_s)
        spans: list[Span] = []
        for a, b in zip(bounds, bounds[1:]):
            for w in fixed_windows(b - a, window_s=self.max_window_s, overlap_s=0.0):
                spans.append(Span(round(a + w.start_s, 6), round(a + w.end_s, 6)))
        return spans


def make_segmenter(kind: str, *, window_s: float, overlap_s: float) -> FixedWindows | SceneWindows:
    """``fixed`` windows, or ``scenes`` (``window_s`` = the longest clip, ``overlap_s`` unused)."""
    if kind == "fixed":
        return FixedWindows(window_s=window_s, overlap_s=overlap_s)
    if kind == "scenes":
        return SceneWindows(max_window_s=window_s)
    raise ConfigError(f"segmentation {kind!r} is not one of fixed, scenes")


def fixed_windows(duration_s: float, *, window_s: float = 20.0, overlap_s: float = 5.0) -> list[Span]:
    """Windows [k*stride, k*stride + window_s) covering [0, duration_s]; the last one is cut at
    the end (so the last window may be shorter than ``window_s``)."""
    if duration_s <= 0 or not math.isfinite(duration_s):
        raise ConfigError(f"cannot segment a video of duration {duration_s} s")
    stride = window_s - overlap_s
    spans = []
    start = 0.0
    k = 0
    while True:  # k * stride avoids accumulating float error over thousands of windows
        end = min(start + window_s, duration_s)
        spans.append(Span(round(start, 6), round(end, 6)))
        if end >= duration_s - 1e-9:
            break
        k += 1
        start = k * stride
    return spans


def probe_duration_s(path: str | Path) -> float:
    """A video's duration in seconds from its header (ffprobe, no decoding), with the same
    errors as every other reader of a video (:func:`videopipe.decode.probe.probe`)."""
    from videopipe.decode.probe import probe

    info = probe(path)
    if info.duration_s > 0 and math.isfinite(info.duration_s):
        return info.duration_s
    raise DecodeError(f"{info.path}: ffprobe reports no duration; the file may be truncated")
