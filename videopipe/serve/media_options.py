"""vLLM's per-request media options, ``mm_processor_kwargs`` and ``media_io_kwargs["video"]``
(``fps``, ``num_frames``, ``max_pixels``, ``min_pixels``), as pipeline options for one video:

* ``num_frames``: the frames to sample; else ``fps`` x the video's duration (at least 1);
* ``max_pixels`` / ``min_pixels``: bounds on a decoded frame's area; the shorter side
  (``size_px``) is lowered or raised until the frame's area, at the video's aspect ratio, is
  inside them (unchanged when it already is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["media_overrides"]

MAX_FRAMES = 4096


def media_overrides(
    media: Mapping[str, Any], *, duration_s: float, width: int, height: int, size_px: int
) -> dict[str, int]:
    """The ``PipelineConfig`` overrides ``media`` asks for, for a video of ``duration_s``
    seconds and ``width`` x ``height`` frames decoded at ``size_px`` on the shorter side."""
    out: dict[str, int] = {}
    if media.get("num_frames") is not None:
        out["num_frames"] = int(media["num_frames"])
    elif media.get("fps") is not None:
        out["num_frames"] = max(1, min(MAX_FRAMES, math.ceil(float(duration_s) * float(media["fps"]))))
    aspect = max(width, height) / max(1, min(width, height))
    side = int(size_px)
    high, low = media.get("max_pixels"), media.get("min_pixels")
    if high is not None and side * side * aspect > high:
        side = max(1, math.floor(math.sqrt(high / aspect)))
    if low is not None and side * side * aspect < low:
        side = math.ceil(math.sqrt(low / aspect))
    if side != size_px:
        out["size_px"] = side
    return out
