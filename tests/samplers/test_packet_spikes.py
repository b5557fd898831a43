"""Packet-size spikes: content changes between keyframes found without decoding, and the
candidates they add to keyclip/query on long-GOP videos (a short needle between keyframes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import media_file
from tests.samplers.conftest import CUT_SPECS
from videopipe.decode import open_video
from videopipe.decode.probe import ffmpeg_bin
from videopipe.registry import EMBEDDERS, SAMPLERS
from videopipe.samplers._packets import size_spikes, spike_candidates
from videopipe.samplers.candidates import candidate_frames
from videopipe.samplers.frame_times import decode_cost, keyframe_indices
from videopipe.testing.videos import Scene, VideoSpec, make_video, read_frame_number, video_cache_dir
from videopipe.types import Budget

BIKES_CUTS = [30, 76, 137, 187, 242]  # shot changes of bikes.mp4 (by inspection of its frames)

# 11 min at 5 fps, 160x90, GOP 50 (10 s): 23 texture cuts between keyframes and a 3 s red needle
# (frames 1660..1674) strictly between the keyframes at 1650 and 1700.
FPS = 5.0
NEEDLE = range(1660, 1675)
_scenes = [Scene(num_frames=153, seed=49)] + [Scene(num_frames=137, seed=50 + i) for i in range(11)]
_scenes += [Scene(num_frames=15, color="red")] + [Scene(num_frames=137, seed=90 + i) for i in range(12)]
LONG_GOP = {
    bf: VideoSpec(scenes=tuple(_scenes), width=160, height=90, fps=FPS, gop=50, bframes=bf) for bf in (0, 2)
}


def spikes_of(path: Path):
    with open_video(path) as r:
        times = r.pts_s
        keys = keyframe_indices(r, times)
        sizes = r.packet_sizes()
        assert sizes is not None
        return size_spikes(sizes, keys, r.info.fps), keys


def matched(found: list[int], cuts: list[int], *, late: int) -> tuple[int, int]:
    """(cuts with a spike at cut..cut+late, spikes matching no cut)."""
    hit = sum(any(c <= f <= c + late for f in found) for c in cuts)
    extra = sum(not any(c <= f <= c + late for c in cuts) for f in found)
    return hit, extra


# ----------------------------------------------------------------------------------------
# the detector
# ----------------------------------------------------------------------------------------
def test_steady_and_periodic_sizes_give_no_spikes_and_a_cut_gives_one() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    pattern = np.where(np.arange(n) % 4 == 0, 4000, 900)  # P B B B ...
    sizes = (pattern * rng.uniform(0.7, 1.3, n)).astype(np.int64)
    keys = list(range(0, n, 250))
    sizes[keys] = 30000
    assert len(size_spikes(sizes, keys, 25.0).indices) == 0
    sizes[613] = 20000  # a P-frame coded intra: a cut between keyframes
    sp = size_spikes(sizes, keys, 25.0)
    assert sp.indices.tolist() == [613] and sp.ratio[0] > 4


def test_noisy_video_raises_its_own_threshold() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.lognormal(7, 0.6, 2000).astype(np.int64)  # high-motion: sizes vary a lot
    sizes[[0, 1000]] = 5 * np.median(sizes)  # the I-frames
    sp = size_spikes(sizes, [0, 1000], 25.0)
    assert sp.threshold > 2.5  # above the floor ratio
    # i.i.d. heavy-tailed sizes: the largest packets look like cuts; under 1 % of the frames
    # (3.5 % are 1.5x their neighbourhood), and the decode budget caps what they cost
    assert len(sp.indices) <= 20
    assert (sp.ratio >= 2.0).all()


@pytest.mark.parametrize("name", sorted(CUT_SPECS))
def test_spikes_find_cuts_between_keyframes(cut_videos, name: str) -> None:
    path, cuts = cut_videos[name]
    sp, keys = spikes_of(path)
    off_key = [c for c in cuts if c not in keys]
    assert len(off_key) >= 5
    assert not set(sp.indices.tolist()) & set(keys)  # keyframes are never spikes
    # B-frames: the P-frame carrying the new picture lands up to 2 frames after the cut
    hit, extra = matched(sp.indices.tolist(), off_key, late=2 if "bframes" in name else 0)
    assert hit == len(off_key) and extra == 0, (sp.indices.tolist(), off_key)


def test_bikes_shot_changes(tmp_path_factory) -> None:
    """bikes.mp4 has its encoder's keyframes at the shot changes: no spike is needed and none is
    reported. Re-encoded with a fixed 10 s GOP (cuts now between keyframes), the spikes are
    exactly the shot changes; with 3 B-frames 4 of the 5 (+0..3 frames; the one at 242 stays
    under the threshold) and nothing else."""
    src = media_file("bikes.mp4")
    sp, keys = spikes_of(src)
    assert set(BIKES_CUTS) <= set(keys) and len(sp.indices) == 0
    for bf, late, need in ((0, 0, 5), (3, 3, 4)):
        out = video_cache_dir() / f"bikes-g250-bf{bf}.mp4"
        if not out.exists():
            tmp = tmp_path_factory.mktemp("bikes") / out.name
            cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-an"]
            cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "250"]
            cmd += ["-keyint_min", "250", "-sc_threshold", "0", "-bf", str(bf), str(tmp)]
            subprocess.run(cmd, check=True, capture_output=True)
            tmp.replace(out)
        sp, keys = spikes_of(out)
        assert keys == [0]
        hit, extra = matched(sp.indices.tolist(), BIKES_CUTS, late=late)
        assert hit >= need and extra == 0, (bf, sp.indices.tolist(), sp.ratio.tolist())


def test_spike_candidates_stay_within_the_decode_budget() -> None:
    sizes = np.full(1000, 500, np.int64)
    keys = [0, 250, 500, 750]
    spikes_at = [40, 120, 300, 610, 700, 900]
    sizes[spikes_at] = [9000, 3000, 6000, 5000, 4000, 7000]
    sp = size_spikes(sizes, keys, 25.0)
    assert sp.indices.tolist() == spikes_at
    base = list(keys)
    for budget in (0, 50, 200, 10_000):
        added, spent = spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=budget)
        assert spent <= budget
        assert spent == decode_cost(sorted(set(base) | set(added)), keys) - decode_cost(base, keys)
        if budget == 0:
            assert added == []
        if budget == 10_000:  # all: each spike and the frame 0.2 s (5 frames) before it
            assert added == sorted(spikes_at + [p - 5 for p in spikes_at])
    # cheapest first (costs beyond the keyframes: 40, 120, 50, 110, 200, 150 frames): a budget
    # of 50 takes the spike at 40; one of 200 takes 40, 300, then 120 (80 frames once 40 is
    # decoded: its GOP continues from there) = 170, and 610 (110 more) no longer fits
    added, _ = spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=50)
    assert added == [35, 40]
    added, spent = spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=200)
    assert (added, spent) == ([35, 40, 115, 120, 295, 300], 170)
    # a cap on added frames (candidate_frames passes max_candidates minus what it has) stops
    # at the last spike whose frames all fit: the two cheapest here
    added, spent = spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=10_000, max_added=5)
    assert (added, spent) == ([35, 40, 295, 300], 90)
    # a spike 2 frames after a keyframe: the keyframe shows the old content, no frame of the
    # previous GOP is added (that would cost decoding most of it)
    sizes[[40, 120, 300, 610, 700, 900]] = 500
    sizes[752] = 9000
    sp = size_spikes(sizes, keys, 25.0)
    assert sp.indices.tolist() == [752]
    assert spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=100) == ([752], 2)
    assert spike_candidates(sp, base, keys, 25.0, 1000, budget_frames=100, max_added=0) == ([], 0)


# ----------------------------------------------------------------------------------------
# the samplers on a long-GOP video with a short needle between keyframes
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=sorted(LONG_GOP), ids=lambda bf: f"bframes{bf}")
def long_gop(request):
    spec = LONG_GOP[request.param]
    with open_video(make_video(spec)) as r:
        keys = keyframe_indices(r, r.pts_s)
        assert [k for k in keys if 1600 < k < 1750] == [1650, 1700]  # the needle lies between
        yield r


@pytest.mark.parametrize("name", ["keyclip", "query"])
def test_needle_between_keyframes_found_only_with_spike_candidates(long_gop, name: str) -> None:
    q, budget = "when is the screen red?", Budget(num_frames=8, size_px=90)
    new = SAMPLERS.create(name)(long_gop, budget, query=q, embedder=EMBEDDERS.create("color"))
    old = SAMPLERS.create(name, spike_budget_frames=0)(
        long_gop, budget, query=q, embedder=EMBEDDERS.create("color")
    )
    hits = sorted(set(new.indices) & set(NEEDLE))
    assert hits, f"{name} missed the needle with spike candidates: {new.indices}"
    assert not set(old.indices) & set(NEEDLE), f"keyframe-only candidates found it anyway: {old.indices}"
    # the needle candidate (a spike candidate) is the best-scoring candidate; the keyframe-only
    # run had no candidate on the needle at all
    ct_new, ct_old = np.asarray(new.meta["candidate_times_s"]), np.asarray(old.meta["candidate_times_s"])
    t0, t1 = NEEDLE.start / FPS, NEEDLE.stop / FPS
    assert ((ct_new >= t0) & (ct_new < t1)).any() and not ((ct_old >= t0) & (ct_old < t1)).any()
    assert new.meta["candidates_from_spikes"] > 0 and old.meta["candidates_from_spikes"] == 0
    frame = long_gop.frames_at([hits[0]]).data[0].numpy()
    assert read_frame_number(frame) == hits[0]
    r, g, b = frame[-10:].reshape(-1, 3).mean(axis=0)
    assert r > 150 and g < 80 and b < 80


def test_spike_candidates_cost_far_less_than_the_grid(long_gop) -> None:
    times = long_gop.pts_s
    keys = keyframe_indices(long_gop, times)
    auto = candidate_frames(long_gop, times, keys, rate_hz=1.0, max_candidates=1024)
    grid = candidate_frames(long_gop, times, keys, rate_hz=1.0, max_candidates=1024, mode="grid")
    assert auto.from_spikes >= 40 and auto.spikes >= 20  # 23 cuts + the needle's end
    cost_auto, cost_grid = decode_cost(auto.indices, keys), decode_cost(grid.indices, keys)
    assert auto.spike_decode_frames <= min(2000, 0.25 * cost_grid)  # the default budget
    assert cost_auto < 0.35 * cost_grid, (cost_auto, cost_grid)
