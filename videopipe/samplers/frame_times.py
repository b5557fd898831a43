"""Frame <-> time mapping over a reader's frame table, and snapping target times to frames
(exact, or the nearest keyframe when that is much cheaper to decode) with their decode cost.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from videopipe.errors import ConfigError

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader
    from videopipe.types import VideoInfo


SNAP_MODES = ("auto", "exact", "keyframe")


def _fps(info: VideoInfo) -> float:
    if info.fps and info.fps > 0:
        return float(info.fps)
    if info.duration_s > 0 and info.num_frames > 0:
        return info.num_frames / info.duration_s
    return 25.0


def frame_times(video: VideoReader) -> np.ndarray:
    """Presentation time (s) of every frame, from the reader's frame table (``pts_s``); ``i /
    fps`` (constant frame rate) when that table does not have one time per frame."""
    t = np.asarray(video.pts_s, dtype=np.float64)
    if t.ndim == 1 and len(t) == video.info.num_frames:
        return t
    info = video.info
    return np.arange(info.num_frames, dtype=np.float64) / _fps(info)


def index_at(times: np.ndarray, t: float) -> int:
    """Index of the frame shown at time ``t`` (the nearest frame start)."""
    k = int(np.searchsorted(times, t))
    if k <= 0:
        return 0
    if k >= len(times):
        return len(times) - 1
    return k if times[k] - t <= t - times[k - 1] else k - 1


def keyframe_indices(video: VideoReader, times: np.ndarray) -> list[int]:
    """Frame indices of the container's keyframes (sorted, unique)."""
    try:
        kt = video.keyframe_times()
    except NotImplementedError:  # a reader that cannot tell
        return []
    return sorted({index_at(times, float(t)) for t in kt})


@dataclass(frozen=True)
class Snapped:
    indices: list[int]
    targets_s: list[float]
    snapped: int  # how many samples were moved onto a keyframe
    max_offset_s: float  # largest |actual - target|
    tolerance_s: float


def snap_targets(
    targets_s: Sequence[float],
    times: np.ndarray,
    keyframes: Sequence[int],
    *,
    interval_s: float,
    mode: str = "auto",
) -> Snapped:
    """Map target times to frames.

    ``exact``: the frame shown at each target. ``auto``: the nearest keyframe when it lies within
    a quarter of ``interval_s`` of the target (decoding a keyframe needs no other frame), else
    the exact frame. ``keyframe``: always the nearest keyframe, exact frame only when that
    keyframe is already taken. A frame is never taken twice (ties fall back to exact, then to the
    nearest free neighbour)."""
    if mode not in SNAP_MODES:
        raise ConfigError(f"snap={mode!r} is not one of {', '.join(SNAP_MODES)}")
    tol = max(0.0, interval_s / 4.0)
    ktimes = [float(times[k]) for k in keyframes]
    used: set[int] = set()
    pairs: list[tuple[int, float]] = []
    snapped = 0
    for t in targets_s:
        exact = index_at(times, t)
        pick: int | None = exact
        if mode != "exact" and ktimes:
            j = bisect.bisect_left(ktimes, t)
            near = [c for c in (j - 1, j) if 0 <= c < len(ktimes)]
            best = min(near, key=lambda c: abs(ktimes[c] - t))
            kf = keyframes[best]
            if kf not in used and (mode == "keyframe" or abs(ktimes[best] - t) <= tol + 1e-9):
                pick = kf
        if pick in used:
            pick = _free_neighbour(exact, used, len(times))
            if pick is None:
                continue
        if pick != exact:
            snapped += 1
        used.add(pick)
        pairs.append((pick, float(t)))
    pairs.sort()
    offs = [abs(float(times[i]) - t) for i, t in pairs]
    return Snapped(
        indices=[i for i, _ in pairs],
        targets_s=[t for _, t in pairs],
        snapped=snapped,
        max_offset_s=max(offs, default=0.0),
        tolerance_s=tol,
    )


def decode_cost(indices: Sequence[int], keyframes: Sequence[int]) -> int:
    """Frames a seek-to-keyframe-and-decode-forward decoder decodes to return ``indices``:
    from the keyframe before each frame, continuing without a seek inside one GOP."""
    keys = sorted(keyframes) or [0]
    total, pos = 0, -1
    for i in sorted(indices):
        k = keys[max(0, bisect.bisect_right(keys, i) - 1)]
        total += i - pos if k <= pos < i else i - k + 1
        pos = i
    return total


def _free_neighbour(i: int, used: set[int], n: int) -> int | None:
    for d in range(n):
        for c in (i + d, i - d):
            if 0 <= c < n and c not in used:
                return c
    return None


def check_video(video: VideoReader, name: str) -> np.ndarray:
    """Frame times of ``video``; raise a clear error when it has no frames."""
    from videopipe.errors import DecodeError

    times = frame_times(video)
    if len(times) == 0:
        raise DecodeError(f"{video.info.path}: the video has no frames; {name} sampler has nothing to pick")
    return times
