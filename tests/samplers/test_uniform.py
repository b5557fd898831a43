"""uniform: frame-count rules (incl. the qwen-vl-utils rule), placement and keyframe snapping."""

from __future__ import annotations

import numpy as np
import pytest

from tests.samplers.fakes import FakeReader
from videopipe.errors import ConfigError
from videopipe.samplers.uniform import UniformSampler, smart_nframes
from videopipe.types import Budget


@pytest.mark.parametrize(
    ("total", "fps", "kw", "expected"),
    [
        (300, 30.0, {}, 20),  # 10 s at fps 2
        (90000, 25.0, {}, 768),  # an hour: capped at 768
        (45, 30.0, {}, 4),  # 1.5 s -> 3 frames -> at least 4
        (7, 25.0, {}, 4),  # 0.56 frames -> min 4 (<= floor(7 / 2) * 2 = 6)
        (250, 25.0, {"fps": 1.0}, 10),
        (1001, 29.97, {}, 66),  # 33.4 s * 2 = 66.8 -> floor to a multiple of 2
        (500, 25.0, {"nframes": 7}, 8),  # nframes rounds to the nearest multiple of 2
        (500, 25.0, {"nframes": 9}, 8),  # Python round(4.5) == 4, as in qwen-vl-utils
    ],
)
def test_smart_nframes_matches_qwen_rule(total: int, fps: float, kw: dict, expected: int) -> None:
    assert smart_nframes(total, fps, **kw) == expected


def _reader(n: int = 1000, fps: float = 25.0, gop: int = 50) -> FakeReader:
    return FakeReader(np.zeros((n, 8, 8, 3), np.uint8), fps=fps, gop=gop)


def test_qwen_rule_counts_and_budget_cap() -> None:
    r = _reader(1000)  # 40 s
    assert len(UniformSampler(rule="qwen")(r, Budget(num_frames=1000)).indices) == 80
    # the budget wins, rounded down to a multiple of 2
    assert len(UniformSampler(rule="qwen")(r, Budget(num_frames=33)).indices) == 32
    assert len(UniformSampler(rule="fps", fps=0.5)(r, Budget(num_frames=1000)).indices) == 20


def test_linspace_exact_equals_qwen_indices() -> None:
    r = _reader(1000)
    sel = UniformSampler(placement="linspace", snap="exact")(r, Budget(num_frames=16))
    assert sel.indices == np.linspace(0, 999, 16).round().astype(int).tolist()
    assert sel.frames_decoded == 0 and sel.meta["snapped"] == 0


def test_midpoint_exact_places_segment_centres() -> None:
    r = _reader(1000)
    sel = UniformSampler(snap="exact")(r, Budget(num_frames=10))
    assert sel.indices == [50 + 100 * k for k in range(10)]


def test_auto_snap_takes_keyframes_within_a_quarter_interval() -> None:
    r = _reader(2000, gop=50)  # keyframe every 2 s, 80 s video
    b = Budget(num_frames=16)  # interval 5 s, targets 2.5, 7.5, ... s, tolerance 1.25 s
    auto = UniformSampler()(r, b)
    exact = UniformSampler(snap="exact")(r, b)
    assert auto.meta["tolerance_s"] == pytest.approx(1.25)
    assert all(i % 50 == 0 for i in auto.indices)  # every sample landed on a keyframe
    assert auto.meta["snapped"] == 16 and auto.meta["max_offset_s"] == pytest.approx(0.5)
    for t, target in zip(auto.times_s, auto.meta["target_times_s"]):
        assert abs(t - target) <= auto.meta["tolerance_s"] + 1e-9
    # the point of snapping: one decoded frame per sample instead of ~GOP/2
    r1, r2 = _reader(2000, gop=50), _reader(2000, gop=50)
    r1.frames_at(auto.indices)
    r2.frames_at(exact.indices)
    assert r1.decode_cost == 16
    assert r2.decode_cost == sum(i % 50 + 1 for i in exact.indices) > 16 * 10


def test_auto_snap_keeps_exact_frames_when_keyframes_are_far() -> None:
    r = _reader(2000, gop=500)  # keyframe every 20 s; interval 4 s: too far
    sel = UniformSampler()(r, Budget(num_frames=20))
    assert sel.meta["snapped"] <= 4  # only targets within 1 s of 0/20/40/60 s may snap
    ex = UniformSampler(snap="exact")(r, Budget(num_frames=20))
    assert sum(a != b for a, b in zip(sel.indices, ex.indices)) == sel.meta["snapped"]


def test_keyframe_snap_always_moves_without_duplicates() -> None:
    r = _reader(2000, gop=500)  # only 4 keyframes for 10 samples
    sel = UniformSampler(snap="keyframe")(r, Budget(num_frames=10))
    assert len(sel.indices) == 10 == len(set(sel.indices))
    assert {0, 500, 1000, 1500} <= set(sel.indices)


def test_uniform_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="snap"):
        UniformSampler(snap="nearest")
    with pytest.raises(ConfigError, match="placement"):
        UniformSampler(placement="random")
    with pytest.raises(ConfigError, match="fps"):
        UniformSampler(rule="fps")
