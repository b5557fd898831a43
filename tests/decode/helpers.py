"""Helpers for decoder tests: small generated videos covering codecs/containers/VFR/rotation,
and a sequential PyAV decode as the reference every backend is compared with."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from videopipe.testing.videos import VideoSpec, make_video, scenes_video

# name -> spec; 150 frames, 160x96, GOP 50 (3 keyframes) unless said otherwise
SPECS: dict[str, VideoSpec] = {
    "h264": scenes_video(),
    "h264_bframes": scenes_video(bframes=3),
    "hevc": scenes_video(codec="libx265", bframes=3),
    "vp9_webm": scenes_video(codec="libvpx-vp9", container="webm"),
    "mpeg4_avi": scenes_video(codec="mpeg4", container="avi", bframes=2),
    "msmpeg4_avi": scenes_video(codec="msmpeg4", container="avi"),
    "vfr_h264": scenes_video(vfr=True, bframes=2),
    "vfr_mkv": scenes_video(vfr=True, container="mkv"),
    "rot90": scenes_video(rotation=90),
    "audio_first": scenes_video(audio=True, bframes=2),
}

REAL_CLIPS = ("vtest.avi", "bikes.mp4", "bigbuckbunny.mp4")


def gen_video(name: str) -> Path:
    """Path of the generated test video ``name`` (cached)."""
    return make_video(SPECS[name])


@lru_cache(maxsize=4)
def reference_frames(path: str) -> np.ndarray:
    """Every frame of ``path`` from a plain sequential PyAV decode, RGB, not rotated."""
    import av

    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@lru_cache(maxsize=16)
def reference_pts(path: str) -> np.ndarray:
    import av

    with av.open(path) as c:
        s = c.streams.video[0]
        pts = [f.pts for f in c.decode(s)]
        tb = float(s.time_base)
    arr = np.asarray(pts, np.float64)
    return (arr - arr[0]) * tb


def unrotate(frame: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(frame, -(rotation // 90))) if rotation else frame
