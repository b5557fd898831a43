"""The CPU speed options (docs/models.md): ``--quantize int8`` (torch's dynamic int8 linear
layers) and ``--vision-merge R`` (ToMe inside the SigLIP vision tower), on tiny random models
and on real widths with the depth cut to one layer. ``int8-weights`` (the pipeline's CPU
default): tests/models/test_int8_weights.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.models._vlm_helpers import random_frames
from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError
from videopipe.models import load_model
from videopipe.models.quantize import Int8Linear
from videopipe.models.tome import MERGE_FAMILIES, merge_state, merge_vision_tokens
from videopipe.testing.tiny_models import TINY_FRAME_PX
from videopipe.types import Frames

SIGLIP = tuple(MERGE_FAMILIES)  # smolvlm, llava_onevision


def _frames(px: int, n: int = 3) -> Frames:
    return random_frames(px, n)


def _tiny_frames(family: str) -> Frames:
    return _frames(TINY_FRAME_PX[family] * 4)  # an 8x8 token grid per frame (16+ patches inside)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0))


# -- int8 --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "bias", "scale"), [((64, 48), True, 1.0), ((300, 960), False, 0.02)])
def test_int8_layers_are_torch_quantize_dynamics_bit_for_bit(
    shape: tuple[int, int], bias: bool, scale: float
) -> None:
    """``dynamic_int8_layer`` builds the layer directly; it must be exactly the one torch's own
    ``quantize_dynamic`` (``per_channel_dynamic_qconfig``) makes: the same int8 weight and
    scales, the same outputs. A row of zeros and a row far larger than the rest included."""
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from videopipe.models.quantize import dynamic_int8_layer

    torch.manual_seed(0)
    linear = torch.nn.Linear(shape[1], shape[0], bias=bias)
    with torch.no_grad():
        linear.weight.mul_(scale)
        linear.weight[0] = 0.0
        linear.weight[1] *= 1000.0
    ref = torch.nn.Sequential(torch.nn.Linear(shape[1], shape[0], bias=bias))
    ref.load_state_dict({f"0.{k}": v for k, v in linear.state_dict().items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(ref, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    with warnings.catch_warnings(record=True) as caught:  # torch's deprecation notice is not the user's
        warnings.simplefilter("always")
        ours = dynamic_int8_layer(linear).quantized
    assert not caught, [str(w.message) for w in caught]
    theirs = ref[0]
    a, b = ours.weight(), theirs.weight()
    assert torch.equal(a.int_repr(), b.int_repr())
    assert torch.equal(a.q_per_channel_scales(), b.q_per_channel_scales())
    assert torch.equal(a.q_per_channel_zero_points(), b.q_per_channel_zero_points())
    x = torch.randn(7, shape[1])
    assert torch.equal(ours(x), theirs(x))
    assert (ours.in_features, ours.out_features) == (theirs.in_features, theirs.out_features)


@pytest.mark.parametrize("family", ["smolvlm", "llava_onevision", "qwen2_5_vl", "qwen3_vl"])
def test_int8_replaces_the_linear_layers_and_answers(family: str, tiny_dirs: dict, adapters: dict) -> None:
    m = load_model(tiny_dirs[family], device="cpu", dtype="bfloat16", quantize="int8", frames_per_batch=4)
    names = {n for n, mod in m.model.named_modules() if isinstance(mod, Int8Linear)}
    plain = {n for n, mod in m.model.named_modules() if type(mod) is torch.nn.Linear}
    assert names and plain <= {"lm_head"}, f"left unquantized: {sorted(plain)}"
    frames = _frames(TINY_FRAME_PX[family], n=4)
    tokens = m.encode(frames)
    ref = adapters[family].encode(frames)  # float32, no quantization
    assert tokens.features.shape == ref.features.shape
    assert _cos(tokens.features, ref.features) > 0.99
    assert isinstance(m.generate(tokens, "What happens?", max_new_tokens=3), str)


def test_int8_answers_through_pipeline_ask(tiny_dirs: dict, tmp_path: Path) -> None:
    from videopipe.pipeline import Pipeline
    from videopipe.testing.videos import make_video, scenes_video

    px = TINY_FRAME_PX["smolvlm"]
    cfg = PipelineConfig(
        model=str(tiny_dirs["smolvlm"]),
        quantize="int8",
        dtype="bfloat16",
        device="cpu",
        num_frames=4,
        size_px=px,
        compressor="none",
        max_visual_tokens=None,
        cache_dir=str(tmp_path),
        text="none",
        max_new_tokens=3,
    )
    pipe = Pipeline(config=cfg)
    assert any(isinstance(mod, Int8Linear) for mod in pipe.model.model.modules())
    ans = pipe.ask(make_video(scenes_video((12, 12), width=px, height=px)), "What happens?")
    assert ans.stats.tokens_before == 4 * 4 and isinstance(ans.text, str)


@pytest.fixture(scope="module")
def cut_smolvlm() -> Path:
    """SmolVLM2-256M at its real widths, vocabulary and processor; one layer each."""
    from videopipe.testing.real_size import build_real_model

    return build_real_model("smolvlm2-256m", text_layers=1, vision_layers=1)


def test_int8_drift_at_real_width_is_small(cut_smolvlm: Path) -> None:
    frames = _frames(512, n=2)
    ref = load_model(cut_smolvlm, device="cpu", dtype="float32").encode(frames).features
    q = load_model(cut_smolvlm, device="cpu", dtype="bfloat16", quantize="int8").encode(frames).features
    assert q.shape == ref.shape
    assert _cos(q, ref) > 0.99


# -- ToMe --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", SIGLIP)
def test_merge_keeps_the_shape_and_merges_more_with_larger_r(family: str, tiny_dirs: dict) -> None:
    frames = _tiny_frames(family)
    plain = load_model(tiny_dirs[family], device="cpu", dtype="float32").encode(frames)
    inside: dict[int, list[int]] = {}
    for r in (1, 4):
        m = load_model(tiny_dirs[family], device="cpu", dtype="float32", vision_merge=r)
        tokens = m.encode(frames)
        assert tokens.features.shape == plain.features.shape
        assert torch.equal(tokens.row, plain.row) and torch.equal(tokens.frame_idx, plain.frame_idx)
        state = merge_state(m.model)
        assert state is not None
        inside[r] = state.tokens
    n0 = inside[1][0]
    assert inside[1][-1] == n0 - 1 and inside[4][-1] == n0 - 4  # tiny towers: 2 layers
    assert inside[4][-1] < inside[1][-1]


@pytest.mark.parametrize("family", SIGLIP)
def test_merge_zero_is_bit_identical(family: str, tiny_dirs: dict) -> None:
    frames = _tiny_frames(family)
    plain = load_model(tiny_dirs[family], device="cpu", dtype="float32").encode(frames)
    m = load_model(tiny_dirs[family], device="cpu", dtype="float32", vision_merge=0)
    assert merge_vision_tokens(m.model, 0) is None and merge_state(m.model) is None
    assert torch.equal(m.encode(frames).features, plain.features)


@pytest.mark.parametrize("family", SIGLIP)
def test_wrapped_layers_merging_nothing_compute_the_layer(family: str, tiny_dirs: dict) -> None:
    """With r 0 inside the wrappers (attention, MLP, restore), the tower computes what the
    unwrapped one does: the wrapper's own attention is the layer's."""
    from videopipe.models.tome import MergeState, _layers, _wrapped

    frames = _tiny_frames(family)
    plain = load_model(tiny_dirs[family], device="cpu", dtype="float32").encode(frames)
    m = load_model(tiny_dirs[family], device="cpu", dtype="float32")
    layers, state = _layers(m.model), MergeState(r=0)
    for i, layer in enumerate(layers):
        layers[i] = _wrapped(layer, state, first=i == 0, last=i == len(layers) - 1)
    got = m.encode(frames).features
    assert state.tokens and set(state.tokens) == {state.tokens[0]}
    torch.testing.assert_close(got, plain.features, rtol=1e-4, atol=1e-5)


def test_merge_at_real_width_keeps_the_grid(cut_smolvlm: Path) -> None:
    frames = _frames(512, n=2)
    ref = load_model(cut_smolvlm, device="cpu", dtype="float32").encode(frames).features
    m = load_model(cut_smolvlm, device="cpu", dtype="float32", vision_merge=64)
    got = m.encode(frames).features
    state = merge_state(m.model)
    assert got.shape == ref.shape == (2 * 64, ref.shape[1])  # 64 tokens per frame at 512 px
    assert state is not None and state.tokens == [1024]  # one layer: 32x32 patches enter it
    assert int(state.source.max()) + 1 == 1024 - 64  # 64 merged away inside that layer
    assert _cos(got, ref) > 0.9


def test_merge_is_refused_for_qwen_before_loading(tiny_dirs: dict) -> None:
    with pytest.raises(ConfigError, match=r"--vision-merge 2: .*qwen2_5_vl.*smolvlm, llava_onevision"):
        load_model(tiny_dirs["qwen2_5_vl"], device="cpu", vision_merge=2)


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="quantize .*'int4' is not one of auto, none, int8-weights, int8"):
        PipelineConfig(quantize="int4")
    with pytest.raises(ConfigError, match="vision_merge .* must be >= 0"):
        PipelineConfig(vision_merge=-1)
    assert PipelineConfig().quantize == "auto" and PipelineConfig().vision_merge == 0
