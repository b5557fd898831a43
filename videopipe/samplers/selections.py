"""Building a :class:`~videopipe.types.Selection` from picked frames.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from videopipe.types import Clip, Selection

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader


def spread_frames(center: int, lo: int, hi: int, k: int) -> list[int]:
    """``k`` distinct frames in [lo, hi], evenly spread, always including ``center`` (the frame
    the window is about); where rounding makes two coincide, the missing ones are taken from the
    middle of the frames left, so ``k`` frames come back whenever the window holds them."""
    if k <= 1:
        return [center]
    pts = set(np.linspace(lo, hi, k).round().astype(int).tolist())
    if center not in pts:
        pts.discard(min(pts, key=lambda p: abs(p - center)))
        pts.add(center)
    if len(pts) < k:  # rounding collisions (more frames asked than the window spaces apart)
        extra = [i for i in range(lo, hi + 1) if i not in pts]
        while len(pts) < k and extra:
            pts.add(extra.pop(len(extra) // 2))
    return sorted(pts)


def single_frame_clips(
    indices: Iterable[int], times: np.ndarray, *, size: tuple[int, int] | None = None
) -> tuple[Clip, ...]:
    idx = sorted(set(int(i) for i in indices))
    out = []
    for i in idx:
        t = float(times[i])
        out.append(Clip(start_s=t, end_s=t, indices=(i,), times_s=(t,), size=size))
    return tuple(out)


def all_frames_selection(video: VideoReader, times: np.ndarray, name: str) -> Selection:
    """Every frame of a video shorter than the budget, as one clip."""
    n = len(times)
    clip = Clip(
        start_s=float(times[0]),
        end_s=float(times[-1]),
        indices=tuple(range(n)),
        times_s=tuple(float(t) for t in times),
    )
    return Selection((clip,), sampler=name, frames_decoded=0, meta={"all_frames": True})
