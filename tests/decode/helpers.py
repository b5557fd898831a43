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

# (video, backend) pairs a backend refuses on purpose (UnsupportedVideoError), because it is
# known/verified to return wrong frames there (see docs/decoding.md)
REFUSED = {
    ("mpeg4_avi", "torchcodec"),
    ("mpeg4_avi", "decord"),
    ("msmpeg4_avi", "decord"),
    ("vp9_webm", "decord"),
    ("vtest.avi", "decord"),
    ("rot90", "decord"),
}


def open_checked(name: str, path, backend: str):
    """open_video(path, backend=...), or None after checking that a documented refusal raises
    UnsupportedVideoError."""
    import pytest

    from videopipe.decode import open_video
    from videopipe.errors import UnsupportedVideoError

    if (name, backend) in REFUSED:
        with pytest.raises(UnsupportedVideoError, match=backend):
            open_video(path, backend=backend)
        return None
    return open_video(path, backend=backend)


def gen_video(name: str) -> Path:
    """Path of the generated test video ``name`` (cached)."""
    return make_video(SPECS[name])


def reference_frames(path: str, indices) -> dict[int, np.ndarray]:
    return _reference_frames(str(path), tuple(sorted(int(i) for i in indices)))


@lru_cache(maxsize=8)
def _reference_frames(path: str, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Frames ``indices`` (and nothing else is kept) of a plain sequential PyAV decode of
    ``path``: RGB, not rotated, full size."""
    import av

    want = set(int(i) for i in indices)
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                out[i] = f.to_ndarray(format="rgb24")
                if len(out) == len(want):
                    break
    return out


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
