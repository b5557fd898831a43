"""Fixtures for sampler tests: generated videos (cached under $VIDEOPIPE_CACHE) and fakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videopipe.testing.videos import Scene, VideoSpec, make_video, scenes_video

# Cut videos: codec keyframes every GOP frames (sc_threshold 0), cuts never on a keyframe.
CUT_SPECS: dict[str, VideoSpec] = {
    "h264_gop50": scenes_video((37, 41, 53, 29, 61, 44, 33, 70, 46), seed=11, gop=50),
    "h264_gop30_bframes": scenes_video((23, 52, 38, 71, 27, 45, 58), seed=12, gop=30, bframes=2),
}

# 30-minute needle video: 96x64 at 2 fps, 60 s scenes, one 10 s flat red needle at ~17:00.
NEEDLE_FPS = 2.0
_needle_scenes = [Scene(num_frames=120, seed=100 + i) for i in range(17)]
_needle_scenes += [Scene(num_frames=20, color="red")]
_needle_scenes += [Scene(num_frames=100, seed=200)]
_needle_scenes += [Scene(num_frames=120, seed=300 + i) for i in range(12)]
NEEDLE_SPEC = VideoSpec(scenes=tuple(_needle_scenes), width=96, height=64, fps=NEEDLE_FPS, gop=2)
NEEDLE_START = 17 * 120
NEEDLE_FRAMES = range(NEEDLE_START, NEEDLE_START + 20)


@pytest.fixture(scope="session")
def cut_videos() -> dict[str, tuple[Path, list[int]]]:
    return {name: (make_video(spec), spec.cut_frames) for name, spec in CUT_SPECS.items()}


@pytest.fixture(scope="session")
def needle_video() -> Path:
    assert NEEDLE_SPEC.num_frames == 3600  # 30 minutes at 2 fps
    return make_video(NEEDLE_SPEC)


@pytest.fixture(scope="session")
def small_video() -> Path:
    """150 frames, 160x96, cuts at 40/75/125, GOP 50."""
    return make_video(scenes_video())


@pytest.fixture(scope="session")
def one_frame_video() -> Path:
    return make_video(VideoSpec(scenes=(Scene(num_frames=1, seed=7),), gop=1))


def calm_frames(n_scenes: int = 4, length: int = 200, h: int = 48, w: int = 80) -> np.ndarray:
    """Static scenes with a little noise (no motion): only cuts change the picture."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_scenes):
        base = rng.integers(0, 256, size=(h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)
        for _k in range(length):
            noise = rng.integers(-3, 4, size=base.shape)
            out.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return np.stack(out)
