"""Shared sampler helpers: decode-cost model and the cheap candidate grid."""

from __future__ import annotations

import numpy as np

from videopipe.samplers._common import candidate_grid, decode_cost, snap_targets


def test_decode_cost_counts_frames_from_the_keyframe() -> None:
    keys = [0, 50, 100]
    assert decode_cost([0, 50, 100], keys) == 3  # keyframes decode alone
    assert decode_cost([10], keys) == 11
    assert decode_cost([10, 20], keys) == 21  # same GOP: decoding continues
    assert decode_cost([60, 110], keys) == 11 + 11


def test_candidate_grid_uses_keyframes_when_gops_are_long() -> None:
    times = np.arange(25 * 600) / 25.0  # 10 min at 25 fps, keyframe every 10 s
    keys = list(range(0, len(times), 250))
    idx, interval = candidate_grid(None, times, keys, rate_hz=1.0, max_candidates=1024)  # type: ignore[arg-type]
    assert idx == keys and interval == 10.0  # one decode per candidate
    grid, gi = candidate_grid(None, times, keys, rate_hz=1.0, max_candidates=1024, mode="grid")  # type: ignore[arg-type]
    assert len(grid) == 600 and gi == 1.0 and decode_cost(grid, keys) > 10 * decode_cost(idx, keys)
    # a short video: the exact grid is cheap enough, so auto takes it
    short = np.arange(25 * 30) / 25.0
    sidx, _ = candidate_grid(None, short, [0, 250, 500], rate_hz=1.0, max_candidates=1024)  # type: ignore[arg-type]
    assert len(sidx) == 30


def test_snap_never_repeats_a_frame() -> None:
    times = np.arange(100) / 10.0
    snap = snap_targets([0.1, 0.2, 0.3], times, [0], interval_s=100.0, mode="keyframe")
    assert sorted(set(snap.indices)) == snap.indices and len(snap.indices) == 3
