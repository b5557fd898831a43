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
