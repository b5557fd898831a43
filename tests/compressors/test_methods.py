"""What each compressor specifically does (beyond the shared contract)."""

from __future__ import annotations

import pytest
import torch

from videopipe.compressors import build
from videopipe.compressors.chain import Chain
from videopipe.compressors.metrics import drop_frames_uniform, token_coverage
from videopipe.errors import ConfigError, UnknownPluginError
from videopipe.registry import COMPRESSORS
from videopipe.testing.tokens import make_tokens
from videopipe.types import VisualTokens


def _grid_tokens(frames: torch.Tensor) -> VisualTokens:
    t = frames.shape[0]
    return VisualTokens.from_grid(frames, frame_idx=range(t), time_s=[i / 10 for i in range(t)])


# -- pool ---------------------------------------------------------------------------------
def test_pool_averages_blocks_and_keeps_a_real_position() -> None:
    x = torch.randn(2, 4, 4, 3, dtype=torch.float64)
    out = build("pool")(_grid_tokens(x), 8)  # 4 tokens per frame: 2x2 bins of 2x2 tokens
    assert len(out) == 8 and out.size.tolist() == [4.0] * 8
    assert out.frame_idx.tolist() == [0] * 4 + [1] * 4
    assert out.row.tolist()[:4] == [0, 0, 2, 2] and out.col.tolist()[:4] == [0, 2, 0, 2]
    assert torch.allclose(out.features[0], x[0, :2, :2].reshape(4, 3).mean(0))
    assert torch.allclose(out.features[7], x[1, 2:, 2:].reshape(4, 3).mean(0))


def test_pool_pools_over_time_when_budget_is_below_frame_count() -> None:
    x = torch.randn(6, 2, 2, 3, dtype=torch.float64)
    out = build("pool")(_grid_tokens(x), 2)
    assert len(out) == 2 and out.size.tolist() == [12.0, 12.0]
    assert out.frame_idx.tolist() == [1, 4]  # the middle frame of frames 0-2 and 3-5
    assert torch.allclose(out.features[0], x[:3].reshape(-1, 3).mean(0))


# -- temporal_merge -------------------------------------------------------------------------
def test_temporal_merge_folds_a_duplicate_frame_into_its_predecessor_first() -> None:
    x = torch.randn(4, 3, 3, 8, dtype=torch.float64)
    x[2] = x[1] + 1e-3 * torch.randn(3, 3, 8, dtype=torch.float64)
    vt = _grid_tokens(x)
    out = build("temporal_merge")(vt, len(vt) - 9)
    assert len(out) == len(vt) - 9  # exactly r merges
    assert 2 not in out.frame_idx.tolist()  # the duplicate frame is gone, whole
    assert out.size[out.frame_idx == 1].tolist() == [2.0] * 9
    assert bool((out.size[out.frame_idx != 1] == 1).all())


def test_temporal_merge_merges_most_similar_pairs_and_chains_to_the_earliest() -> None:
    x = torch.randn(3, 1, 2, 8, dtype=torch.float64)
    x[1, 0, 0] = x[0, 0, 0] + 0.01  # token (0,0) persists over three frames
    x[2, 0, 0] = x[1, 0, 0] + 0.01
    out = build("temporal_merge", frame_threshold=1.0)(_grid_tokens(x), 4)
    assert len(out) == 4
    first = (out.frame_idx == 0) & (out.col == 0)
    assert out.size[first].tolist() == [3.0]  # chain 2 -> 1 -> 0 folded into frame 0
    assert torch.allclose(out.features[first][0], x[:, 0, 0].mean(0))


def test_temporal_matching_is_the_same_in_small_chunks() -> None:
    from videopipe.compressors._ops import frame_layout
    from videopipe.compressors.temporal_merge import previous_frame_matches

    vt = make_tokens([(3, 4), (2, 2), (4, 4), (3, 3), (1, 2)], 6, seed=11, keep_fraction=0.8)
    layout = frame_layout(vt)
    best, match = previous_frame_matches(vt, layout)
    best1, match1 = previous_frame_matches(vt, layout, max_elems=1)  # one frame per chunk
    assert torch.equal(match, match1) and torch.allclose(best, best1)
    first = layout.frame_of == 0
    assert bool((match[first] == -1).all()) and bool((match[~first] >= 0).all())
    # every match lies in the previous frame
    assert torch.equal(layout.frame_of[match[~first]], layout.frame_of[~first] - 1)


def test_temporal_merge_pools_when_temporal_merging_cannot_reach_the_budget() -> None:
    vt = make_tokens([(4, 4)] * 3, 6, seed=2)
    out = build("temporal_merge")(vt, 5)
    assert len(out) <= 5 and float(out.size.sum()) == 48.0


# -- progressive ----------------------------------------------------------------------------
def test_progressive_static_video_costs_one_frame() -> None:
    vt = make_tokens([(8, 8)] * 10, 16, seed=1, repeat_prev=[True] * 10)
    out = build("progressive", fill_budget=False)(vt, 300)
    assert out.frame_idx.unique().tolist() == [0] and len(out) == 64
    assert out.size.tolist() == [10.0] * 64
    assert token_coverage(vt, out) > 0.999


def test_progressive_keeps_a_scene_cut_whole_and_fills_budget_by_novelty() -> None:
    repeat = [True] * 10
    repeat[5] = False  # new content from frame 5 on
    vt = make_tokens([(8, 8)] * 10, 16, seed=1, repeat_prev=repeat)
    out = build("progressive", fill_budget=False)(vt, 300)
    assert out.tokens_per_frame() == {0: 64, 15: 64}  # frame 5 has frame_idx 15
    filled = build("progressive")(vt, 300)
    assert len(filled) == 300 and token_coverage(vt, filled) >= token_coverage(vt, out)


def test_progressive_pools_frames_to_the_per_frame_budget() -> None:
    vt = make_tokens([(16, 16)] * 3, 8, seed=4)
    out = build("progressive", per_frame_budget=64, threshold=-1.0, fill_budget=False)(vt, 500)
    assert out.tokens_per_frame() == {0: 64}  # threshold -1: nothing is ever novel
    assert float(out.size.sum()) == 768.0  # pooled 4:1, later frames folded into best matches
    assert float(out.size.min()) >= 4.0


def test_progressive_native_grid_keeps_full_resolution_first_frame() -> None:
    vt = make_tokens([(16, 16)] * 3, 8, seed=4, repeat_prev=[False, True, True])
    out = build("progressive", per_frame_budget=0, fill_budget=False)(vt, 500)
    assert out.tokens_per_frame() == {0: 256} and out.size.tolist() == [3.0] * 256


def test_progressive_over_budget_drops_least_novel_tokens() -> None:
    vt = make_tokens([(4, 4)] * 6, 32, seed=5)  # random frames: everything novel
    out = build("progressive")(vt, 40)
    assert len(out) == 40 and out.tokens_per_frame()[0] == 16
    assert float(out.size.sum()) == 96.0


def test_progressive_memory_window_forgets_unseen_scenes_but_not_static_ones() -> None:
    g = torch.Generator().manual_seed(7)
    scene_a, scene_b = torch.randn(4, 4, 16, generator=g), torch.randn(4, 4, 16, generator=g)
    # A A A B B B B B B A A: scene A comes back after 6 frames of B
    vt = _grid_tokens(torch.stack([scene_a] * 3 + [scene_b] * 6 + [scene_a] * 2))
    unbounded = build("progressive", fill_budget=False)(vt, 100)
    assert unbounded.tokens_per_frame() == {0: 16, 3: 16}  # the return of A matches frame 0
    windowed = build("progressive", fill_budget=False, memory_frames=3)(vt, 100)
    assert windowed.tokens_per_frame() == {0: 16, 3: 16, 9: 16}  # A was forgotten: kept again
    assert float(windowed.size.sum()) == 176.0  # every token still accounted for
    # a static scene stays in memory however long the video: it is matched every frame
    static = _grid_tokens(torch.stack([scene_a] * 12))
    out = build("progressive", fill_budget=False, memory_frames=2)(static, 100)
    assert out.tokens_per_frame() == {0: 16} and out.size.tolist() == [12.0] * 16
    with pytest.raises(ConfigError, match="memory_frames"):
        build("progressive", memory_frames=0)


# -- slowfast -------------------------------------------------------------------------------
def test_slowfast_full_resolution_only_on_slow_frames() -> None:
    vt = make_tokens([(4, 4)] * 12, 8, seed=6)
    out = build("slowfast", num_slow_frames=2, fast_share=0.5)(vt, 100)
    per = out.tokens_per_frame()
    slow = {9, 27}  # frames 3 and 9 of 12 (uniform spread), frame_idx = 3 * rank
    assert {f for f, c in per.items() if c == 16} == slow
    assert all(c == 4 for f, c in per.items() if f not in slow)
    assert bool((out.size[torch.isin(out.frame_idx, torch.tensor(sorted(slow)))] == 1).all())


def test_slowfast_small_budget_falls_back_to_even_pooling() -> None:
    vt = make_tokens([(4, 4)] * 12, 8, seed=6)
    assert torch.equal(build("slowfast")(vt, 12).size, build("pool")(vt, 12).size)


# -- divprune / query -----------------------------------------------------------------------
def _cluster_and_outliers() -> VisualTokens:
    eye = torch.eye(8, dtype=torch.float64)
    feats = torch.cat([eye[0] + 0.01 * torch.randn(10, 8, dtype=torch.float64), eye[1:4]])
    return VisualTokens(
        features=feats,
        frame_idx=torch.arange(13),
        time_s=torch.arange(13) / 10,
        row=torch.zeros(13),
        col=torch.zeros(13),
        size=torch.ones(13),
    )


def test_divprune_picks_spread_out_points() -> None:
    vt = _cluster_and_outliers()
    out = build("divprune")(vt, 4)
    assert {10, 11, 12} <= set(out.frame_idx.tolist())
    assert len(set(out.frame_idx.tolist()) & set(range(10))) == 1  # one token of the cluster
    folded = build("divprune", fold_dropped=True)(vt, 4)
    assert sorted(folded.size.tolist()) == [1.0, 1.0, 1.0, 10.0]


def test_divprune_sketch_selects_nearly_as_exact_in_high_dimension() -> None:
    eye = torch.eye(512, dtype=torch.float64)
    feats = torch.cat([eye[0] + 0.01 * torch.randn(20, 512, dtype=torch.float64), eye[1:6]])
    vt = VisualTokens(
        features=feats, frame_idx=torch.arange(25), time_s=torch.arange(25) / 10, row=torch.zeros(25),
        col=torch.zeros(25), size=torch.ones(25),
    )  # fmt: skip
    out = build("divprune", sketch_dim=64)(vt, 6)
    assert set(range(20, 25)) <= set(out.frame_idx.tolist())  # the five distinct directions
    with pytest.raises(ConfigError, match="sketch_dim must be > 0"):
        build("divprune", sketch_dim=0)


def test_query_keeps_the_relevant_token_and_falls_back_to_divprune() -> None:
    vt = _cluster_and_outliers()
    q = torch.zeros(8, dtype=torch.float64)
    q[0] = 1.0  # the cluster direction
    with_q = build("query", query_share=1.0)(vt, 2, query_embedding=q)
    assert set(with_q.frame_idx.tolist()) <= set(range(10))  # both from the cluster
    assert torch.equal(build("query")(vt, 4).frame_idx, build("divprune")(vt, 4).frame_idx)
    with pytest.raises(
        ConfigError, match="query_embedding has 5 values but the visual tokens have dimension 8"
    ):
        build("query")(vt, 2, query_embedding=torch.ones(5))


# -- chains, registry, validation -----------------------------------------------------------
def test_chain_runs_earlier_stages_at_their_default_then_enforces_the_budget() -> None:
    vt = make_tokens([(4, 4)] * 8, 8, seed=8, repeat_prev=[False, True] * 4)
    chain = build("temporal_merge+progressive")
    assert isinstance(chain, Chain) and chain.name == "temporal_merge+progressive" and chain.merges
    tm, pg = COMPRESSORS.create("temporal_merge"), COMPRESSORS.create("progressive")
    first = tm(vt, max(20, tm.default_budget(vt)))
    assert len(first) < len(vt)  # duplicate frames merged at the stage's default
    expect = pg(first, 20)
    out = chain(vt, 20)
    assert len(out) <= 20 and torch.equal(out.features, expect.features)
    assert chain(vt, len(vt)) is vt


def test_build_and_config_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="bad compressor spec"):
        build("pool+")
    with pytest.raises(UnknownPluginError, match="valid names: .*divprune"):
        build("pool+nope")
    with pytest.raises(ConfigError, match="takes no keyword options"):
        build("pool+divprune", threshold=0.5)
    with pytest.raises(ConfigError, match="unknown option.*thresh.*valid options: .*threshold"):
        build("progressive", thresh=0.5)
    with pytest.raises(ConfigError, match=r"progressive.threshold must be in \[-1.0, 1.0\], got 2"):
        build("progressive", threshold=2)
    vt = make_tokens([(2, 2)], 4)
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ConfigError, match="budget must be an int >= 1"):
            build("pool")(vt, bad)  # type: ignore[arg-type]


def test_every_entry_has_a_summary_and_a_name_matching_the_registry() -> None:
    for entry in COMPRESSORS.entries():
        assert entry.summary
        assert COMPRESSORS.create(entry.name).name == entry.name


# -- primitives and metrics -----------------------------------------------------------------
def test_merge_rejects_a_representative_outside_its_group() -> None:
    vt = make_tokens([(2, 2)], 4)
    with pytest.raises(ValueError, match="member of its own group"):
        vt.merge(torch.tensor([0, 0, 1, 1]), torch.tensor([2, 3]))
    with pytest.raises(ValueError, match="group ids"):
        vt.merge(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 2]))


def test_merge_accumulates_low_precision_in_float32() -> None:
    x = torch.full((512, 1), 1.0 + 1 / 128, dtype=torch.bfloat16)
    x[0] = 3.0
    vt = VisualTokens(
        features=x, frame_idx=torch.zeros(512), time_s=torch.zeros(512), row=torch.arange(512), col=torch.zeros(512),
        size=torch.ones(512),
    )  # fmt: skip
    out = vt.merge(torch.zeros(512, dtype=torch.long), torch.tensor([0]))
    exact = (3.0 + 511 * (1 + 1 / 128)) / 512
    assert out.features.dtype == torch.bfloat16
    assert abs(float(out.features[0, 0]) - exact) < 1e-2


def test_sorted_restores_time_row_col_order() -> None:
    vt = make_tokens([(2, 3)] * 3, 4, seed=9)
    perm = torch.randperm(len(vt), generator=torch.Generator().manual_seed(0))
    shuffled = vt._take(perm)
    assert not shuffled.is_ordered()
    back = shuffled.sorted()
    assert torch.equal(back.features, vt.features) and torch.equal(back.extras["deep"], vt.extras["deep"])
    assert vt.sorted() is vt


def test_coverage_and_frame_dropping_baseline() -> None:
    vt = make_tokens([(3, 3)] * 6, 8, seed=10)
    assert token_coverage(vt, vt) == pytest.approx(1.0)
    dropped = drop_frames_uniform(vt, 20)  # 2 whole frames of 9 tokens
    assert dropped.tokens_per_frame() == {3: 9, 12: 9}
    assert token_coverage(vt, dropped) < 1.0
    assert token_coverage(vt, vt.select(torch.tensor([], dtype=torch.long))) == 0.0
