"""Shared sampler helpers: decode-cost model and the cheap candidate grid."""

from __future__ import annotations

import numpy as np

from videopipe.samplers.candidates import candidate_grid
from videopipe.samplers.frame_times import decode_cost, snap_targets
from videopipe.samplers.sizing import size_for_tokens


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


def test_size_for_tokens_when_size_px_is_not_a_multiple_of_token_px() -> None:
    # size_px 90 with 28 px tokens: the largest usable shorter side is 84, which must count
    # even though a minimum of 112 px (keyclip's min_px) or 90 px cannot be met
    from types import SimpleNamespace

    from videopipe.types import Budget

    video = SimpleNamespace(info=SimpleNamespace(height=90, width=160))
    budget = Budget(num_frames=8, size_px=90)
    assert size_for_tokens(video, budget, 18, min_short_px=90) == (84, 140)  # type: ignore[arg-type]
    assert size_for_tokens(video, budget, 15) == (84, 140)  # type: ignore[arg-type]
    assert size_for_tokens(video, budget, 14) == (56, 112)  # type: ignore[arg-type]
    assert size_for_tokens(video, budget, 1) is None  # type: ignore[arg-type]


def test_keyclip_fills_a_small_frame_size_budget() -> None:
    from videopipe.decode import open_video
    from videopipe.registry import SAMPLERS
    from videopipe.testing.videos import make_long_video
    from videopipe.types import Budget

    with open_video(make_long_video(120, width=160, height=90)) as r:
        sel = SAMPLERS.create("keyclip")(r, Budget(num_frames=8, size_px=90))
    assert sel.num_frames == 8 and all(c.size == (84, 140) for c in sel.clips)  # was 2 single frames


def test_spread_frames_spreads_around_the_center_and_fills_rounding_gaps() -> None:
    from videopipe.samplers.selections import spread_frames

    assert spread_frames(7, 0, 20, 1) == [7]
    assert spread_frames(10, 0, 20, 3) == [0, 10, 20]
    assert spread_frames(7, 0, 20, 3) == [0, 7, 20]  # the nearest spread frame gives way to the center
    for lo, hi, center in ((0, 9, 4), (3, 17, 17), (5, 5, 5), (2, 30, 11)):
        for k in range(1, hi - lo + 2):
            got = spread_frames(center, lo, hi, k)
            assert len(got) == k and len(set(got)) == k and center in got
            assert all(lo <= f <= hi for f in got)
    assert spread_frames(2, 0, 3, 9) == [0, 1, 2, 3]  # no more frames than the window holds
