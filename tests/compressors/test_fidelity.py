"""Fidelity on tokens of real frames (../shared/media) from a fixed random projection of
28 px pixel patches (see videopipe.testing.patch_features for why that encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videopipe.compressors import build
from videopipe.compressors.metrics import drop_frames_uniform, token_coverage
from videopipe.testing.patch_features import patch_tokens, read_frames, static_tokens
from videopipe.types import VisualTokens


def _clip(media_dir: Path, name: str) -> Path:
    if not (media_dir / name).is_file():
        pytest.skip(f"real test clip {media_dir / name} not found (see shared/media/README.md)")
    return media_dir / name


@pytest.fixture(scope="session")
def static_video_tokens(media_dir: Path) -> VisualTokens:
    """vtest.avi's middle frame (fixed camera) repeated 16x with pixel noise, 224x224 (8x8 tokens)."""
    return static_tokens(_clip(media_dir, "vtest.avi"), num_frames=16)


@pytest.fixture(scope="session")
def changing_video_tokens(media_dir: Path) -> VisualTokens:
    """16 frames of bikes.mp4 (moving cyclists, several shot cuts), 224x224 (8x8 tokens)."""
    frames, idx, times = read_frames(_clip(media_dir, "bikes.mp4"), num_frames=16, size=(224, 224))
    return patch_tokens(frames, idx, times)


@pytest.mark.parametrize("spec", ["progressive", "temporal_merge"])
def test_static_video_keeps_coverage_at_15_percent(spec: str, static_video_tokens: VisualTokens) -> None:
    vt = static_video_tokens
    budget = int(0.15 * len(vt))
    out = build(spec)(vt, budget)
    assert len(out) <= 0.15 * len(vt)
    assert token_coverage(vt, out) >= 0.99


def test_static_video_progressive_without_filling_costs_one_frame(static_video_tokens: VisualTokens) -> None:
    vt = static_video_tokens
    out = build("progressive", fill_budget=False)(vt, int(0.15 * len(vt)))
    assert len(out) == 64 and token_coverage(vt, out) >= 0.99


@pytest.mark.parametrize("spec", ["progressive", "temporal_merge"])
@pytest.mark.parametrize("fraction", [0.1, 0.15, 0.25])
def test_changing_video_beats_uniform_frame_dropping(
    spec: str, fraction: float, changing_video_tokens: VisualTokens
) -> None:
    vt = changing_video_tokens
    budget = int(fraction * len(vt))
    ours = token_coverage(vt, build(spec)(vt, budget))
    baseline = token_coverage(vt, drop_frames_uniform(vt, budget))
    assert ours > baseline
