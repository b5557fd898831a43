"""Thumbnails of video frames (``GET /v1/frames``) for the evidence of an answer."""

from __future__ import annotations

import io
import math
from pathlib import Path

__all__ = ["thumbnail_jpeg"]


def thumbnail_jpeg(video: Path, t_s: float, *, height_px: int = 160, backend: str = "auto") -> bytes:
    """The frame shown at ``t_s`` (clamped into the video) as JPEG bytes, ``height_px`` on its
    shorter side (never enlarged). Decoded on the CPU."""
    from PIL import Image

    from videopipe.decode import open_video
    from videopipe.errors import InputError

    if not math.isfinite(t_s):
        raise InputError(f"t={t_s} is not a time in seconds")
    with open_video(video, backend=backend, device="cpu") as reader:
        info = reader.info
        t = min(max(0.0, float(t_s)), max(0.0, info.duration_s - 1e-3))
        side = min(int(height_px), info.height, info.width)
        frames = reader.frames_at_times([t], size=max(1, side))
    buf = io.BytesIO()
    Image.fromarray(frames.array[0]).save(buf, format="JPEG", quality=85)
    return buf.getvalue()
