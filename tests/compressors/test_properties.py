"""Contract of every compressor (and chains), checked with hypothesis on random tokens."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videopipe.compressors import build
from videopipe.protocols import Compressor
from videopipe.registry import COMPRESSORS
from videopipe.testing.tokens import deep_projection, make_tokens
from videopipe.types import VisualTokens

SPECS = [n for n in COMPRESSORS.names() if n != "none"] + [
    "temporal_merge+progressive",
    "pool+divprune",
    "progressive+slowfast",
    "static_prune+segment_merge",
    # options written in the spec (videopipe.compressors.spec)
    "progressive[per_frame_budget=4,frame_budget=uniqueness]",
    "slowfast[slow_frames=uniqueness,num_slow_frames=2]",
    "static_prune[fold_dropped=true]+segment_merge[min_segments=2]",
]
VARIANTS = {
    "progressive[native,nofill]": ("progressive", {"per_frame_budget": 0, "fill_budget": False}),
    "progressive[memory=1]": ("progressive", {"memory_frames": 1}),
    "divprune[sketch,fold]": ("divprune", {"sketch_dim": 3, "fold_dropped": True}),
    "query[sketch]": ("query", {"sketch_dim": 2}),
    "static_prune[fold]": ("static_prune", {"fold_dropped": True}),
    "pool[uniqueness]": ("pool", {"frame_budget": "uniqueness"}),
    "segment_merge[dpc,chunks]": (
        "segment_merge",
        {"density_share": 0.5, "neighbours": 2, "max_cluster_tokens": 4, "min_segments": 3},
    ),
}
SPECS += list(VARIANTS)
MERGING = {
    "pool", "temporal_merge", "progressive", "slowfast", "temporal_merge+progressive", "progressive+slowfast",
    "progressive[native,nofill]", "progressive[memory=1]", "divprune[sketch,fold]",
    "segment_merge", "static_prune[fold]", "pool[uniqueness]", "segment_merge[dpc,chunks]",
    "progressive[per_frame_budget=4,frame_budget=uniqueness]", "slowfast[slow_frames=uniqueness,num_slow_frames=2]",
    "static_prune[fold_dropped=true]+segment_merge[min_segments=2]",
}  # fmt: skip


def _make(spec: str) -> Compressor:
    """A compressor from a spec string or a configured variant name (options may be None)."""
    if spec in VARIANTS:
        name, options = VARIANTS[spec]
        return COMPRESSORS.get(name)(**options)
    return build(spec)


@st.composite
def token_sets(draw: st.DrawFn) -> tuple[VisualTokens, int]:
    n_frames = draw(st.integers(1, 6))
    same_grid = draw(st.booleans())
    grid = st.tuples(st.integers(1, 5), st.integers(1, 5))
    g0 = draw(grid)
    grids = [g0 if same_grid else draw(grid) for _ in range(n_frames)]
    repeat = draw(st.lists(st.booleans(), min_size=n_frames, max_size=n_frames))
    vt = make_tokens(
        grids,
        draw(st.integers(1, 6)),
        seed=draw(st.integers(0, 10_000)),
        repeat_prev=repeat,
        keep_fraction=draw(st.sampled_from([1.0, 1.0, 0.6])),
    )
    budget = draw(st.integers(1, len(vt) + 3))
    return vt, budget


def _positions(vt: VisualTokens) -> set[tuple[int, float, int, int]]:
    return set(zip(vt.frame_idx.tolist(), vt.time_s.tolist(), vt.row.tolist(), vt.col.tolist()))


def _assert_same(a: VisualTokens, b: VisualTokens) -> None:
    for name in ("features", "frame_idx", "time_s", "row", "col", "size"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.extras.keys() == b.extras.keys()
    for k in a.extras:
        assert torch.equal(a.extras[k], b.extras[k])


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=token_sets())
def test_compressor_contract(spec: str, data: tuple[VisualTokens, int]) -> None:
    vt, budget = data
    comp = _make(spec)
    out = comp(vt, budget)
    # budget respected, order kept
    assert len(out) <= budget
    assert out.is_ordered()
    if budget >= len(vt):
        assert out is vt
        return
    assert len(out) >= 1
    # positions of output tokens are positions of input tokens (never moved or invented)
    assert _positions(out) <= _positions(vt)
    # extras stay aligned: the deepstack extra is a linear map of the features
    w = deep_projection(vt.dim)
    expect = torch.einsum("nd,dke->nke", out.features, w)
    assert torch.allclose(out.extras["deep"], expect, atol=1e-8)
    # sizes: merging methods account for every original token; pruning keeps originals
    if spec in MERGING:
        assert float(out.size.sum()) == pytest.approx(float(vt.size.sum()))
    else:
        assert float(out.size.sum()) <= float(vt.size.sum()) + 1e-9
        if "+" not in spec:  # a pure pruner keeps original (size 1) tokens
            assert bool((out.size == 1).all())
    # deterministic
    _assert_same(out, comp(vt, budget))


@pytest.mark.parametrize("spec", ["divprune", "query"])
@settings(max_examples=25, deadline=None)
@given(data=token_sets())
def test_pruners_keep_original_rows_and_fold_option_sums_sizes(
    spec: str, data: tuple[VisualTokens, int]
) -> None:
    vt, budget = data
    out = build(spec)(vt, budget)
    lookup = {p: i for i, p in enumerate(zip(vt.frame_idx.tolist(), vt.row.tolist(), vt.col.tolist()))}
    idx = torch.tensor([lookup[p] for p in zip(out.frame_idx.tolist(), out.row.tolist(), out.col.tolist())])
    assert torch.equal(out.features, vt.features[idx])
    folded = build(spec, fold_dropped=True)(vt, budget)
    assert len(folded) == len(out) and _positions(folded) == _positions(out)
    assert float(folded.size.sum()) == pytest.approx(float(vt.size.sum()))


@pytest.mark.parametrize("spec", SPECS)
def test_low_precision_features_keep_dtype(spec: str) -> None:
    vt = make_tokens([(4, 4)] * 4, 8, seed=3, dtype=torch.bfloat16)
    out = _make(spec)(vt, 10)
    assert len(out) <= 10 and out.features.dtype == torch.bfloat16
    assert torch.isfinite(out.features.float()).all()


def test_none_is_identity_within_budget_and_refuses_over_budget() -> None:
    from videopipe.errors import ConfigError

    vt = make_tokens([(2, 3)] * 2, 4)
    assert build("none")(vt, 12) is vt
    with pytest.raises(ConfigError, match="none.*12 visual tokens for a budget of 5"):
        build("none")(vt, 5)


@pytest.mark.gpu
@pytest.mark.parametrize("spec", SPECS)
def test_cuda_matches_cpu(spec: str) -> None:
    vt = make_tokens([(4, 5)] * 5, 8, seed=7, repeat_prev=[False, True, False, True, False])
    cpu = _make(spec)(vt, 23)
    gpu = _make(spec)(vt.to("cuda"), 23)
    assert gpu.device.type == "cuda"
    assert torch.equal(cpu.frame_idx, gpu.frame_idx.cpu()) and torch.equal(cpu.row, gpu.row.cpu())
    assert torch.allclose(cpu.features, gpu.features.cpu(), atol=1e-6)
    assert torch.equal(cpu.size, gpu.size.cpu())
