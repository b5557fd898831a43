"""The Qwen adapters' one-pass pixel path: frames decoded at the size the video processor
would resize them to skip the processor; ``pixel_values_videos`` built from the uint8 frames
in one pass equal the processor's (max abs diff <= 1e-6) and the vision tower's tokens equal
those of the processor path (<= 1e-5), at the real checkpoints' pixel limits, at odd sizes and
aspect ratios and with odd frame counts (the padding rule). Anything the path does not
reproduce runs the processor, and says why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from videopipe.errors import ModelError
from videopipe.testing.tiny_models import REAL_VIDEO_PIXELS, build_tiny_model, set_video_pixels
from videopipe.types import Budget, Frames

QWEN = ("qwen2_5_vl", "qwen3_vl")
# (height, width, frames) chosen by the pipeline: 16:9 at 448, a small 16:9, portrait, a
# single frame (padded to a pair), an odd count
CASES = [(448, 784, 4), (252, 448, 5), (784, 448, 3), (448, 448, 1), (224, 392, 7)]


def _load(model_dir: Path, device: str = "cpu", dtype: str = "float32") -> Any:
    from videopipe.models import load_model

    return load_model(model_dir, device=device, dtype=dtype, frames_per_batch=4)


@pytest.fixture(scope="module")
def real_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random Qwen checkpoints with the real checkpoints' video pixel limits."""
    root = tmp_path_factory.mktemp("qwen-real-pixels")
    dirs = {}
    for fam in QWEN:
        d = build_tiny_model(fam, root / fam)
        set_video_pixels(d, *REAL_VIDEO_PIXELS[fam])
        dirs[fam] = d
    return dirs


@pytest.fixture(scope="module")
def real(real_dirs: dict[str, Path]) -> dict[str, Any]:
    return {fam: _load(d) for fam, d in real_dirs.items()}


def _frames(n: int, h: int, w: int, seed: int = 0) -> Frames:
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=g)
    return Frames(data=data, pts_s=torch.arange(n) / 2.0, indices=torch.arange(n) * 3)


def _processor_pixels(ad: Any, frames: Frames) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' own pixel_values_videos and grid for ``frames`` (padded to whole temporal
    patches, as encode pads them)."""
    data = frames.data
    pad = -len(frames) % ad.min_frames
    if pad:
        data = torch.cat([data, data[-1:].expand(pad, *data.shape[1:])])
    b = ad.processor.video_processor(
        videos=[data.permute(0, 3, 1, 2)],
        return_tensors="pt",
        do_sample_frames=False,
        cap_pixels_per_frame=False,
    )
    return b["pixel_values_videos"], b["video_grid_thw"]


def _both_paths(ad: Any, frames: Frames) -> tuple[Any, Any]:
    fused = ad.encode(frames)
    ad.pixel_prep = "processor"
    try:
        ref = ad.encode(frames)
    finally:
        ad.pixel_prep = "auto"
    return fused, ref


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


@pytest.mark.parametrize("family", QWEN)
@pytest.mark.parametrize(("h", "w", "n"), CASES)
def test_fused_pixels_and_tokens_equal_the_processor(
    real: dict[str, Any], family: str, h: int, w: int, n: int
):
    ad = real[family]
    th, tw = ad.decode_size(h, w, n, ad.budget())
    assert ad.decode_size(th, tw, n, ad.budget()) == (th, tw)  # the processor keeps this size
    frames = _frames(n, th, tw)
    pv, grid = _processor_pixels(ad, frames)
    plan = ad._pixel_plan()
    g = (n + n % 2) // 2
    ours = ad._fused_pixels(frames.data, 0, 2 * g, plan)
    assert ours.shape == pv.shape and ours.dtype == pv.dtype
    assert _max_diff(ours, pv) <= 1e-6
    assert grid[0].tolist() == [g, th // plan.patch, tw // plan.patch]
    fused, ref = _both_paths(ad, frames)
    assert fused.meta["pixel_prep"] == "fused" and fused.meta["pixel_prep_reason"] is None
    assert ref.meta["pixel_prep"] == "processor"
    assert fused.layout == ref.layout
    assert _max_diff(fused.features, ref.features) <= 1e-5
    assert fused.extras.keys() == ref.extras.keys()
    for k in fused.extras:  # Qwen3-VL's deepstack features
        assert _max_diff(fused.extras[k], ref.extras[k]) <= 1e-5


def test_qwen_decode_size_follows_the_processors_rounding(real: dict[str, Any]) -> None:
    q25, q3 = real["qwen2_5_vl"], real["qwen3_vl"]
    b = Budget(size_px=448, token_px=28)
    # multiples of 28 inside the per-frame limits pass; Qwen3-VL rounds to its 32 px tokens
    assert q25.decode_size(448, 784, 64, b) == (448, 784)
    assert q3.decode_size(448, 784, 64, b) == (448, 768)
    assert q3.decode_size(448, 800, 64, b) == (448, 800)
    # Qwen3-VL's limit is for the whole clip: 80 frames of 448x800 exceed it and shrink
    h, w = q3.decode_size(448, 800, 80, b)
    assert (
        (h, w) < (448, 800) and h % 32 == 0 and w % 32 == 0 and 80 * h * w <= REAL_VIDEO_PIXELS["qwen3_vl"][1]
    )
    # Qwen2.5-VL's limits are per frame: a huge frame shrinks, a tiny one grows
    h, w = q25.decode_size(2240, 3920, 4, b)
    assert h * w <= REAL_VIDEO_PIXELS["qwen2_5_vl"][1] and h % 28 == 0 and w % 28 == 0
    h, w = q25.decode_size(56, 56, 4, b)
    assert h * w >= REAL_VIDEO_PIXELS["qwen2_5_vl"][0]


def test_a_clip_over_qwen3s_per_video_limit_is_decoded_smaller_and_stays_fused(tmp_path: Path) -> None:
    d = build_tiny_model("qwen3_vl", tmp_path / "q3")
    set_video_pixels(d, 4096, 6 * 256 * 256)  # 6 frames of 256x256 per clip
    ad = _load(d)
    th, tw = ad.decode_size(256, 256, 7, ad.budget())
    assert (th, tw) != (256, 256) and 8 * th * tw <= 6 * 256 * 256
    fused, ref = _both_paths(ad, _frames(7, th, tw))
    assert fused.meta["pixel_prep"] == "fused"
    assert _max_diff(fused.features, ref.features) <= 1e-5
    # frames at the size the pipeline chose (not the processor's) go through the processor
    late = ad.encode(_frames(7, 256, 256))
    assert late.meta["pixel_prep"] == "processor"
    assert f"resizes them to {(th, tw)}" in late.meta["pixel_prep_reason"]
    assert late.layout.clips[0].grid_thw == (4, th // 16, tw // 16)


def test_a_processor_option_the_path_does_not_reproduce_runs_the_processor(real: dict[str, Any]) -> None:
    ad = real["qwen2_5_vl"]
    proc = copy.deepcopy(ad.processor)
    proc.video_processor.do_normalize = False
    other = type(ad).wrap(ad.model, proc, model_id=ad.model_id)
    frames = _frames(2, 252, 448)
    got = other.encode(frames)
    assert got.meta["pixel_prep"] == "processor" and "do_normalize=False" in got.meta["pixel_prep_reason"]
    assert ad.encode(frames).meta["pixel_prep"] == "fused"
    proc = copy.deepcopy(ad.processor)
    proc.video_processor.do_resize = False
    other = type(ad).wrap(ad.model, proc, model_id=ad.model_id)
    assert other.decode_size(252, 448, 2, ad.budget()) == (252, 448)
    got = other.encode(frames)
    assert got.meta["pixel_prep"] == "processor" and "do_resize off" in got.meta["pixel_prep_reason"]
    ad.pixel_prep = "fast"
    try:
        with pytest.raises(ModelError, match="pixel_prep must be 'auto' or 'processor'"):
            ad.encode(frames)
    finally:
        ad.pixel_prep = "auto"


def test_large_clips_are_patchified_chunk_by_chunk(real: dict[str, Any]) -> None:
    ad = real["qwen2_5_vl"]  # frames_per_batch 4: 10 frames are 3 vision-tower batches
    frames = _frames(9, 252, 448)
    calls: list[int] = []
    orig = ad._fused_pixels

    def spy(data: torch.Tensor, start: int, stop: int, *args: Any) -> torch.Tensor:
        calls.append(stop - start)
        return orig(data, start, stop, *args)

    ad._fused_pixels = spy
    try:
        fused = ad.encode(frames)
    finally:
        del ad._fused_pixels
    assert calls == [4, 4, 2]  # no float copy of the whole clip is made
    ref = ad.encode(frames)
    assert _max_diff(fused.features, ref.features) == 0.0


def test_bf16_pixels_are_the_processors_rounded_once(real_dirs: dict[str, Path]) -> None:
    ad = _load(real_dirs["qwen2_5_vl"], dtype="bfloat16")
    frames = _frames(3, 252, 448)
    pv, _ = _processor_pixels(ad, frames)
    ours = ad._fused_pixels(frames.data, 0, 4, ad._pixel_plan())
    assert ours.dtype == torch.bfloat16
    ref = pv.to(torch.bfloat16)
    # computed in float32 like the processor's, rounded once: equal but for rare ties
    assert float((ours != ref).float().mean()) < 1e-4
    assert _max_diff(ours, ref) <= 2**-6


def test_the_pipeline_decodes_at_the_models_decode_size(tmp_path: Path) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.videos import make_video, scenes_video

    d = build_tiny_model("qwen3_vl", tmp_path / "q3")  # tiny limits: 64 tokens of 32x32 per clip
    ad = _load(d)
    video = make_video(scenes_video((25, 25), width=200, height=120))
    cfg = PipelineConfig(num_frames=12, size_px=64, cache_tokens=False, sampler="uniform", compressor="none")
    pipe = Pipeline(ad, config=cfg)
    decoded = pipe.select_and_decode(video)
    chosen = pipe.budget.frame_size(120, 200)
    (group,) = decoded.groups
    assert chosen == (64, 96) and 12 * 64 * 96 > 32 * 32 * 64  # over the clip limit: shrunk
    assert (group.height, group.width) == ad.decode_size(*chosen, 12, pipe.budget) != chosen
    prepared = pipe.prepare_from(decoded)
    assert prepared.tokens.meta["pixel_prep"] == "fused"
    # before the weights are loaded (load_model=False, or `ask`'s background preload) the
    # same size comes from the checkpoint's files: the result never depends on load timing
    lazy = Pipeline(config=cfg.with_overrides(model=str(d)), load_model=False)
    lazy.preload()
    (early,) = lazy.select_and_decode(video).groups
    assert (early.height, early.width) == (group.height, group.width)
    assert torch.equal(early.data, group.data)
    assert lazy.prepare_from(lazy.select_and_decode(video)).tokens.meta["pixel_prep"] == "fused"


@pytest.mark.gpu
@pytest.mark.parametrize("family", QWEN)
def test_gpu_fused_pixels_equal_the_processor(real_dirs: dict[str, Path], family: str) -> None:
    for dtype, tol in (("float32", 1e-5), ("bfloat16", None)):
        ad = _load(real_dirs[family], device="cuda", dtype=dtype)
        th, tw = ad.decode_size(448, 784, 5, ad.budget())
        frames = _frames(5, th, tw)
        pv, _ = _processor_pixels(ad, frames)
        ours = ad._fused_pixels(frames.data, 0, 6, ad._pixel_plan())
        assert ours.is_cuda and ours.dtype == ad.dtype
        assert _max_diff(ours.cpu(), pv.to(ad.dtype)) <= (1e-6 if tol else 2**-6)
        fused, ref = _both_paths(ad, frames)
        assert fused.meta["pixel_prep"] == "fused" and fused.features.is_cuda
        limit = tol if tol else 2e-2 * max(1.0, float(ref.features.float().abs().max()))
        assert _max_diff(fused.features, ref.features) <= limit
