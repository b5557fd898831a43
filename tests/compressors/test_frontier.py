"""segment_merge, static_prune, uniqueness budgets and the rare-event metrics (issue 17)."""

from __future__ import annotations

import pytest
import torch

from videopipe.compressors import build
from videopipe.compressors._ops import allocate, density_peaks
from videopipe.compressors.metrics import event_mask, frame_coverage, measure, needle_score, token_coverage
from videopipe.compressors.segment_merge import segment_starts
from videopipe.errors import ConfigError
from videopipe.types import VisualTokens


def _grid_tokens(frames: torch.Tensor) -> VisualTokens:
    t = frames.shape[0]
    return VisualTokens.from_grid(frames, frame_idx=range(t), time_s=[float(i) for i in range(t)])


def _needle_tokens(frames: int = 40, event_at: int = 25, event_len: int = 2, grid: int = 3, dim: int = 16):
    """A static shot (tiny noise) with one short event of new content."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(grid, grid, dim, generator=g, dtype=torch.float64)
    x = base.expand(frames, grid, grid, dim) + 1e-3 * torch.randn(
        frames, grid, grid, dim, generator=g, dtype=torch.float64
    )
    event = torch.randn(grid, grid, dim, generator=g, dtype=torch.float64)
    x = x.clone()
    x[event_at : event_at + event_len] = event + 1e-3 * torch.randn(
        event_len, grid, grid, dim, generator=g, dtype=torch.float64
    )
    return _grid_tokens(x), [(float(event_at), float(event_at + event_len - 1))]


# -- allocation and clustering helpers -------------------------------------------------------
def test_allocate_sums_respects_caps_floors_and_weights() -> None:
    caps = torch.tensor([5, 100, 100])
    out = allocate(60, torch.tensor([0.0, 1.0, 3.0]), caps, floor=2)
    assert out.tolist() == [2, 16, 42]  # 54 split 13.5 : 40.5, the tie to the lower index
    assert int(out.sum()) == 60
    assert allocate(1000, torch.ones(3), caps).tolist() == [5, 100, 100]  # everything fits
    floors = allocate(6, torch.ones(3), caps, floor=torch.tensor([4, 4, 4]))  # floors exceed the total
    assert int(floors.sum()) == 6 and bool((floors >= 1).all())


def test_density_peaks_gives_k_clusters_each_centre_its_own() -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=1)
    x = torch.nn.functional.normalize(
        centres.repeat_interleave(10, 0) + 0.01 * torch.randn(30, 8, generator=g), dim=1
    )
    for share in (1.0, 0.0):
        c, cluster = density_peaks(x, 3, density_share=share)
        assert c.numel() == 3 and torch.equal(cluster[c], torch.arange(3))
        assert len({int(cluster[i * 10]) for i in range(3)}) == 3  # one centre per true cluster


def test_segments_cut_where_frames_stop_looking_alike() -> None:
    sim = torch.tensor([0.0, 0.99, 0.2, 0.98, 0.5, 0.97])
    assert segment_starts(sim, 0.9, 1, 100).tolist() == [True, False, True, False, True, False]
    assert segment_starts(sim, 0.9, 1, 2).tolist() == [True, False, True, False, False, False]
    assert int(segment_starts(sim, 0.1, 4, 100).sum()) == 4  # min_segments cuts the least similar


# -- static_prune ----------------------------------------------------------------------------
def test_static_prune_drops_unchanged_positions_and_keeps_positions() -> None:
    x = torch.randn(3, 2, 2, 8, dtype=torch.float64)
    x[1] = x[0]
    x[1, 0, 0] = torch.randn(8, dtype=torch.float64)  # one changed patch in frame 1
    x[2] = x[1]
    vt = _grid_tokens(x)
    sp = build("static_prune")
    assert sp.default_budget(vt) == 5  # frame 0 + the changed patch
    out = sp(vt, 5)
    assert out.frame_idx.tolist() == [0, 0, 0, 0, 1] and (out.row[-1], out.col[-1]) == (0, 0)
    assert torch.equal(out.features[-1], vt.features[4]) and not sp.merges
    folded = build("static_prune", fold_dropped=True)(vt, 5)
    assert float(folded.size.sum()) == 12.0 and folded.size.tolist() == [1.0, 3.0, 3.0, 3.0, 2.0]


def test_static_prune_threshold_is_validated() -> None:
    with pytest.raises(ConfigError, match="static_prune.threshold"):
        build("static_prune", threshold=2.0)


# -- segment_merge ----------------------------------------------------------------------------
def test_segment_merge_gives_a_short_event_tokens_of_its_own() -> None:
    vt, spans = _needle_tokens()
    budget = 27  # 3 frames' worth of 360 tokens
    out = build("segment_merge")(vt, budget)
    assert len(out) <= budget and float(out.size.sum()) == pytest.approx(len(vt))
    ev = event_mask(vt, spans)
    assert needle_score(vt, out, ev) == 1.0
    assert measure(vt, out, events=ev).p5_coverage > 0.99
    from videopipe.compressors.metrics import drop_frames_uniform

    assert needle_score(vt, drop_frames_uniform(vt, budget), ev) < 0.5  # 3 frames spread: event missed


def test_segment_merge_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="segment_merge.density_share"):
        build("segment_merge", density_share=1.5)
    with pytest.raises(ConfigError, match="segment_merge.min_segments"):
        build("segment_merge", min_segments=0)


def test_static_prune_then_segment_merge_chain_meets_the_budget() -> None:
    vt, spans = _needle_tokens()
    assert build("static_prune").default_budget(vt) == 27  # frame 0, the event, the return
    out = build("static_prune+segment_merge")(vt, 20)
    assert len(out) <= 20 and out.is_ordered() and 25 in out.frame_idx.tolist()
    assert needle_score(vt, out, event_mask(vt, spans)) > 0.5


# -- uniqueness budgets ---------------------------------------------------------------------
def test_pool_uniqueness_gives_the_distinct_frame_more_tokens() -> None:
    vt, _ = _needle_tokens(frames=8, event_at=4, event_len=1, grid=4)
    out = build("pool", frame_budget="uniqueness")(vt, 32)
    per = out.tokens_per_frame()
    assert per[4] > max(v for k, v in per.items() if k != 4)
    assert float(out.size.sum()) == pytest.approx(len(vt))
    even = build("pool")(vt, 32).tokens_per_frame()
    assert set(even.values()) == {4}
    with pytest.raises(ConfigError, match="pool.frame_budget"):
        build("pool", frame_budget="random")


def test_progressive_uniqueness_pools_the_distinct_frame_less() -> None:
    vt, _ = _needle_tokens(frames=8, event_at=4, event_len=1, grid=4)
    uniq = build("progressive[per_frame_budget=4,frame_budget=uniqueness,fill_budget=false]")
    even = build("progressive[per_frame_budget=4,fill_budget=false]")
    # the pooled grids before the novelty walk: the event frame keeps more of its 16 tokens
    pooled_u = uniq._scan(vt, 4)[0].tokens_per_frame()
    pooled_e = even._scan(vt, 4)[0].tokens_per_frame()
    assert set(pooled_e.values()) == {4}
    assert pooled_u[4] > 4 and sum(pooled_u.values()) <= 32
    out = uniq(vt, 12)
    assert out.tokens_per_frame()[4] > even(vt, 12).tokens_per_frame()[4]
    with pytest.raises(ConfigError, match="needs per_frame_budget > 0"):
        build("progressive[per_frame_budget=0,frame_budget=uniqueness]")


def test_slowfast_uniqueness_makes_the_event_frame_slow() -> None:
    vt, _ = _needle_tokens(frames=12, event_at=7, event_len=1, grid=4)
    spec = "slowfast[num_slow_frames=1,fast_tokens_per_frame=1,fast_share=0.5]"
    uniform = build(spec)(vt, 32).tokens_per_frame()
    unique = build(spec.replace("[", "[slow_frames=uniqueness,"))(vt, 32).tokens_per_frame()
    assert max(unique, key=unique.get) == 7 and unique[7] > 1  # the event frame keeps a fine grid
    assert max(uniform, key=uniform.get) == 6  # uniform: the centre of the one span
    with pytest.raises(ConfigError, match="slowfast.slow_frames"):
        build("slowfast[slow_frames=random]")


# -- metrics ----------------------------------------------------------------------------------
def test_metrics_see_a_lost_frame_that_the_mean_hides() -> None:
    vt, spans = _needle_tokens(frames=40, event_at=20, event_len=1)
    keep = torch.nonzero(vt.frame_idx != 20).squeeze(1)  # everything but the event frame
    out = vt.select(keep)
    fc = frame_coverage(vt, out)
    assert fc.shape == (40,) and float(fc[20]) < 0.5 and float(fc[0]) == pytest.approx(1.0)
    m = measure(vt, out, events=event_mask(vt, spans), seconds=0.5)
    assert m.mean_coverage == pytest.approx(token_coverage(vt, out)) and m.mean_coverage > 0.97
    assert m.min_coverage < 0.5 and m.needle_score == 0.0 and m.tokens_out == len(out)
    assert m.ms_per_10k_tokens == pytest.approx(1000 * 0.5 * 10_000 / len(vt))
    assert measure(vt, vt).needle_score is None and measure(vt, vt).p5_coverage == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no token"):
        needle_score(vt, out, torch.zeros(len(vt), dtype=torch.bool))
