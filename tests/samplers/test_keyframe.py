"""keyframe: real cuts found (not codec keyframes), on generated videos and on bikes.mp4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import media_file
from tests.samplers.conftest import calm_frames
from tests.samplers.fakes import FakeReader
from videopipe.decode import open_video
from videopipe.samplers import _signals as sig
from videopipe.samplers.keyframe import KeyframeConfig, KeyframeSampler, detect_scenes, pick_diverse
from videopipe.types import Budget

# Shot changes of bikes.mp4 (250 frames), found by looking at a contact sheet of the frames
# around every large frame difference: 29->30 (road from above -> man in a suit), 75->76
# (taxi sign -> cyclist behind a van), 136->137 (cyclist -> railing and street), 186->187
# (railing -> legs walking past a parked bike), 241->242 (parked bike -> close-up of wheels).
# Frames ~98-102 (a car passing close to the camera) are motion, not a cut.
BIKES_CUTS = [30, 76, 137, 187, 242]


def f1_within(found: list[int], truth: list[int], tol: int = 1) -> float:
    unmatched = list(truth)
    tp = 0
    for f in found:
        hit = next((t for t in unmatched if abs(t - f) <= tol), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    if not found or not truth:
        return float(found == truth)
    p, r = tp / len(found), tp / len(truth)
    return 0.0 if tp == 0 else 2 * p * r / (p + r)


def test_f1_helper() -> None:
    assert f1_within([10, 21], [10, 20]) == 1.0 and f1_within([10, 30], [10, 20]) == 0.5


def test_finds_cuts_that_are_not_codec_keyframes(cut_videos: dict[str, tuple[Path, list[int]]]) -> None:
    for name, (path, truth) in cut_videos.items():
        with open_video(path) as r:
            keyframes = {round(t * r.info.fps) for t in r.keyframe_times()}
            assert not keyframes & set(truth), f"{name}: fixture cuts must not sit on keyframes"
            scan = detect_scenes(r, KeyframeConfig())
            assert f1_within(scan.cuts, truth) >= 0.95, (name, scan.cuts, truth)
            # the codec keyframes themselves are not reported as cuts
            assert not (set(scan.cuts) & keyframes) - set(truth)
            sel = KeyframeSampler()(r, Budget(num_frames=6))
            assert sel.meta["cuts"] == scan.cuts and len(sel.indices) == 6


def test_bikes_visible_shot_changes() -> None:
    with open_video(media_file("bikes.mp4")) as r:
        sel = KeyframeSampler()(r, Budget(num_frames=8))
    assert f1_within(sel.meta["cuts"], BIKES_CUTS) == 1.0, sel.meta["cuts"]
    # one frame from every shot: the budget (8) is larger than the 6 shots
    shots = np.searchsorted(BIKES_CUTS, sel.indices, side="right")
    assert set(shots.tolist()) == set(range(len(BIKES_CUTS) + 1))


def test_probe_then_refine_decodes_only_changed_intervals() -> None:
    frames = calm_frames(n_scenes=4, length=200)  # cuts at 200, 400, 600; keyframes every 50
    r = FakeReader(frames, fps=25, gop=50)
    scan = detect_scenes(r, KeyframeConfig())
    assert scan.cuts == [200, 400, 600]
    # 17 probes (16 keyframes + last frame) + one GOP (51 frames) per cut, not 800 frames
    assert scan.frames_decoded == len(scan.probes) + 3 * 51 < 800 / 3
    assert scan.refined == [(150, 200), (350, 400), (550, 600)]


def test_budget_cut_keeps_distinct_frames_across_the_timeline() -> None:
    frames = calm_frames(n_scenes=8, length=60)  # 8 shots
    r = FakeReader(frames, fps=25, gop=20)
    sel = KeyframeSampler()(r, Budget(num_frames=8))
    shots = {i // 60 for i in sel.indices}
    assert shots == set(range(8))  # one frame per shot, not 8 near-duplicates of one shot
    sel4 = KeyframeSampler()(r, Budget(num_frames=4))
    assert len({i // 60 for i in sel4.indices}) == 4
    assert max(sel4.indices) - min(sel4.indices) >= 240  # spread over the video


def test_fill_and_dedup() -> None:
    frames = calm_frames(n_scenes=1, length=400)  # one static shot: every probe is a duplicate
    r = FakeReader(frames, fps=25, gop=50)
    sel = KeyframeSampler()(r, Budget(num_frames=5))
    assert sel.meta["cuts"] == [] and sel.meta["after_dedup"] == 1 and sel.meta["filled"] == 4
    assert len(sel.indices) == 5
    gaps = np.diff([0, *sel.indices, 399])
    assert gaps.max() <= 130  # the fill covers the timeline
    no_fill = KeyframeSampler(fill=False)(r, Budget(num_frames=5))
    assert len(no_fill.indices) == 1


def test_pick_diverse_prefers_new_content() -> None:
    feats = np.array([[0.0], [0.0], [1.0], [0.0]])
    t = np.array([0.0, 0.3, 0.6, 1.0])
    assert pick_diverse(feats, t, 2, time_weight=0.1) == [0, 2]
    assert pick_diverse(feats, t, 2, time_weight=10.0) == [0, 3]


def test_block_distance_ignores_local_change() -> None:
    a = calm_frames(n_scenes=2, length=1)
    b = a[:1].copy()
    b[0, :12, :20] = 255  # a small bright region (one block) changes
    s = sig.signatures(np.concatenate([a, b]))
    d = sig.distance(s.take([0, 0]), s.take([2, 1]))
    assert d[0] < 0.05 and d[1] > 0.3  # local change ~0, different scene large


def test_keyframe_config_validated() -> None:
    from videopipe.errors import ConfigError

    with pytest.raises(ConfigError, match="scan_px"):
        KeyframeSampler(scan_px=0)
