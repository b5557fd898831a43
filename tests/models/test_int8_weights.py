"""``--quantize int8-weights`` (and ``auto``, the pipeline's CPU default): the language model's
linear layers hold int8 weights (``videopipe.models.quantize.Int8WeightLinear``); the vision
tower is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.models._vlm_helpers import random_frames
from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError
from videopipe.models import load_model
from videopipe.models.quantize import DECODE_ROWS, Int8Linear, Int8WeightLinear, quantize_model
from videopipe.settings import default_frames_per_batch, quantizes_vision, resolve_quantize
from videopipe.testing.tiny_models import TINY_FRAME_PX


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0))


def _linear(n_in: int, n_out: int, *, bias: bool, dtype: torch.dtype) -> torch.nn.Linear:
    torch.manual_seed(0)
    linear = torch.nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        linear.weight[0] = 0.0  # a row of zeros: scale clamps, the row stays zero
        linear.weight[1] *= 50.0  # a row far larger than the rest: its own scale
    return linear.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [False, True])
def test_decode_and_prefill_paths_compute_the_int8_weight(dtype: torch.dtype, bias: bool) -> None:
    """Few rows go through torch's weight-only int8 kernel, many through the dequantized weight:
    both compute ``x @ (int8 * scale).T + b``, and that is close to the float layer."""
    linear = _linear(96, 160, bias=bias, dtype=dtype)
    q = Int8WeightLinear.from_linear(linear)
    assert q.weight_int8.dtype == torch.int8 and q.scale.dtype == dtype
    assert int(q.weight_int8.abs().max()) == 127 and not q.weight_int8[0].any()
    exact_w = q.weight_int8.double() * q.scale.double()[:, None]
    for shape in [(1, 1, 96), (2, DECODE_ROWS // 2, 96), (3, 40, 96)]:  # decode, decode, prefill
        x = torch.randn(shape).to(dtype)
        with torch.inference_mode():
            got = q(x)
            plain = linear(x)
        assert got.shape == (*shape[:-1], 160) and got.dtype == dtype
        ref = x.double() @ exact_w.T + (0 if linear.bias is None else linear.bias.detach().double())
        tol = 1e-4 if dtype == torch.float32 else 3e-2
        torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * float(ref.abs().max()))
        assert _cos(got, plain) > 0.999


def test_a_weight_off_a_64_byte_boundary_is_copied_onto_one() -> None:
    """Tensors read from a safetensors file start anywhere; torch's int8 kernel crashed the
    process (SIGSEGV) on such a weight with more than a few rows (found by tests/cli/test_estimate.py
    once the kernel took up to 32 rows). The layer keeps its weight and scale aligned."""
    linear = _linear(64, 64, bias=False, dtype=torch.bfloat16)
    good = Int8WeightLinear.from_linear(linear)
    buffer = torch.zeros(64 * 64 + 64, dtype=torch.int8)
    start = next(i for i in range(1, 64) if (buffer.data_ptr() + i) % 64)
    off = buffer[start : start + 64 * 64].view(64, 64)
    off.copy_(good.weight_int8)
    assert off.data_ptr() % 64 != 0
    layer = Int8WeightLinear(off, good.scale)
    assert layer.weight_int8.data_ptr() % 64 == 0 and layer.scale.data_ptr() % 64 == 0
    x = torch.randn(17, 64).to(torch.bfloat16)
    with torch.inference_mode():
        assert torch.equal(layer(x), good(x))


def test_only_the_language_model_is_quantized_and_the_visual_tokens_stay_bit_identical(
    tiny_dirs: dict,
) -> None:
    family = "smolvlm"
    frames = random_frames(TINY_FRAME_PX[family], 3)
    plain = load_model(tiny_dirs[family], device="cpu", dtype="bfloat16", frames_per_batch=4)
    m = load_model(
        tiny_dirs[family], device="cpu", dtype="bfloat16", quantize="int8-weights", frames_per_batch=4
    )
    lm_path = type(m).language_model_path
    q = {n for n, mod in m.model.named_modules() if isinstance(mod, Int8WeightLinear)}
    left = {n for n, mod in m.model.named_modules() if type(mod) is torch.nn.Linear}
    assert q and all(n.startswith(lm_path + ".") for n in q)
    assert not any(n.startswith(lm_path + ".") for n in left)  # the whole language model
    assert not any(isinstance(mod, Int8Linear) for mod in m.model.modules())  # no dynamic int8
    assert "lm_head" in left  # the output head keeps the run dtype
    assert torch.equal(m.encode(frames).features, plain.encode(frames).features)


@pytest.mark.parametrize("family", ["llava_onevision", "qwen2_5_vl", "qwen3_vl"])
def test_every_family_answers_with_int8_weights(family: str, tiny_dirs: dict) -> None:
    m = load_model(
        tiny_dirs[family], device="cpu", dtype="bfloat16", quantize="int8-weights", frames_per_batch=4
    )
    assert any(isinstance(mod, Int8WeightLinear) for mod in m.model.modules())
    tokens = m.encode(random_frames(TINY_FRAME_PX[family], 4))
    answer = m.generate(tokens, "What happens?", max_new_tokens=3)
    assert isinstance(answer, str) and m.last_generation is not None
    assert m.last_generation.completion_tokens >= 1


def test_int8_keeps_its_dynamic_vision_tower_and_int8_weights_in_the_language_model(tiny_dirs: dict) -> None:
    m = load_model(tiny_dirs["smolvlm"], device="cpu", dtype="bfloat16", quantize="int8", frames_per_batch=4)
    lm_path = type(m).language_model_path
    dynamic = [n for n, mod in m.model.named_modules() if isinstance(mod, Int8Linear)]
    weights = [n for n, mod in m.model.named_modules() if isinstance(mod, Int8WeightLinear)]
    assert dynamic and not any(n.startswith(lm_path + ".") for n in dynamic)
    assert weights and all(n.startswith(lm_path + ".") for n in weights)


def test_the_vision_batch_defaults_to_4_frames_under_int8_and_16_otherwise(tiny_dirs: dict) -> None:
    """The dynamic int8 tower encodes faster in small batches (vision_batch.md); an explicit
    ``frames_per_batch`` is kept whatever the mode."""
    d = tiny_dirs["smolvlm"]
    assert default_frames_per_batch("int8") == 4
    assert default_frames_per_batch("auto") == default_frames_per_batch("int8-weights") == 16
    assert load_model(d, device="cpu", dtype="bfloat16", quantize="int8").frames_per_batch == 4
    assert load_model(d, device="cpu", dtype="bfloat16", quantize="auto").frames_per_batch == 16
    assert load_model(d, device="cpu", quantize="int8", frames_per_batch=8).frames_per_batch == 8


@pytest.fixture(scope="module")
def cut_smolvlm() -> Path:
    """SmolVLM2-256M at its real widths, vocabulary and processor; one layer each."""
    from videopipe.testing.real_size import build_real_model

    return build_real_model("smolvlm2-256m", text_layers=1, vision_layers=1)


def test_logit_drift_at_real_width_is_small(cut_smolvlm: Path) -> None:
    """The language model's logits for one prompt (prefill) and the next step (decode kernel)
    against the same model unquantized, both bfloat16."""
    ref = load_model(cut_smolvlm, device="cpu", dtype="bfloat16")
    q = load_model(cut_smolvlm, device="cpu", dtype="bfloat16", quantize="int8-weights")
    torch.manual_seed(0)
    embeds = (torch.randn(1, 40, ref.model.config.text_config.hidden_size) * 0.02).to(torch.bfloat16)
    with torch.inference_mode():
        out = []
        for m in (ref, q):
            logits, past = m._run_lm(embeds, torch.arange(40)[None, None], logits_to_keep=1)
            step, _ = m._run_lm(
                embeds[:, -1:], torch.tensor([[[40]]]), past=past, past_len=40, logits_to_keep=1
            )
            out.append((logits[0, -1], step[0, -1]))
    assert _cos(out[0][0], out[1][0]) > 0.99  # prefill: the dequantized weight
    assert _cos(out[0][1], out[1][1]) > 0.99  # a decoding step: the int8 kernel


def test_auto_is_int8_weights_on_the_cpu_in_bfloat16_and_none_otherwise(
    tiny_dirs: dict, tmp_path: Path
) -> None:
    from videopipe.pipeline import Pipeline

    assert resolve_quantize("auto", "cpu", "bfloat16") == resolve_quantize("auto", "cpu", "torch.bfloat16")
    assert resolve_quantize("auto", "cpu", "bfloat16") == "int8-weights"
    assert resolve_quantize("auto", "cpu", "float32") == "none"  # the int8 kernel is slower there
    assert resolve_quantize("auto", "cuda", "bfloat16") == "none"
    assert resolve_quantize("int8", "cuda", "bfloat16") == "int8"
    assert resolve_quantize("int8-weights", "cpu", "float32") == "int8-weights"
    assert not quantizes_vision("auto") and not quantizes_vision("int8-weights") and quantizes_vision("int8")
    for dtype, quantized in (("bfloat16", True), ("float32", False)):
        cfg = PipelineConfig(
            model=str(tiny_dirs["smolvlm"]), device="cpu", dtype=dtype, cache_dir=str(tmp_path), text="none"
        )
        assert cfg.quantize == "auto"
        pipe = Pipeline(config=cfg)
        assert any(isinstance(mod, Int8WeightLinear) for mod in pipe.model.model.modules()) == quantized


def test_the_token_cache_key_changes_only_when_the_vision_tower_is_quantized(tmp_path: Path) -> None:
    from videopipe.cache import TokenCache
    from videopipe.testing.videos import make_video, scenes_video
    from videopipe.types import Budget

    video = make_video(scenes_video((4,), width=64, height=64))
    cache = TokenCache(tmp_path)
    keys = {
        mode: cache.key(video, sampler="uniform", budget=Budget(num_frames=4), model="m", quantize=mode)
        for mode in ("none", "auto", "int8-weights", "int8")
    }
    assert keys["none"] == keys["auto"] == keys["int8-weights"] != keys["int8"]


def test_an_unknown_mode_is_refused_with_the_choices() -> None:
    model = torch.nn.Linear(4, 4)
    with pytest.raises(ConfigError, match="not one of auto, none, int8-weights, int8"):
        quantize_model(model, "int4", language_model="")


# -- the int8 weights on disk (videopipe.models.quantize_store) ---------------------------------
def _lm(seed: int = 0, width: int = 48) -> torch.nn.Module:
    torch.manual_seed(seed)
    inner = torch.nn.Sequential(
        torch.nn.Linear(width, 2 * width), torch.nn.Linear(2 * width, width, bias=False)
    )
    return torch.nn.Sequential(inner).to(torch.bfloat16)  # "0" is the language model's path


def _quantized_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_second_load_reads_the_stored_weights_instead_of_quantizing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videopipe.models.quantize_store import Int8WeightStore

    store = Int8WeightStore(tmp_path)
    first = _lm()
    assert quantize_model(first, "int8-weights", language_model="0", store=store) == 2
    (path,) = tmp_path.glob("*.safetensors")

    def refuse(linear: torch.nn.Linear) -> Int8WeightLinear:
        raise AssertionError("quantized again although the store holds the weights")

    monkeypatch.setattr(Int8WeightLinear, "from_linear", staticmethod(refuse))
    second = _lm()
    assert quantize_model(second, "int8-weights", language_model="0", store=store) == 2
    assert set(_quantized_state(second)) == set(_quantized_state(first))
    for k, v in _quantized_state(first).items():
        assert torch.equal(_quantized_state(second)[k], v), k
    x = torch.randn(1, 48).to(torch.bfloat16)
    assert torch.equal(first(x), second(x))
    assert list(tmp_path.glob("*.safetensors")) == [path]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "symlink", "other_shape"])
def test_a_bad_stored_file_is_a_miss_and_is_written_again(tmp_path: Path, damage: str) -> None:
    from videopipe.models.quantize_store import Int8WeightStore

    store = Int8WeightStore(tmp_path)
    quantize_model(_lm(), "int8-weights", language_model="0", store=store)
    (path,) = tmp_path.glob("*.safetensors")
    expected = _quantized_state(_quantize_plain(_lm()))
    if damage == "garbage":
        path.write_bytes(b"not a safetensors file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "symlink":
        target = tmp_path / "elsewhere.bin"
        path.rename(target)
        path.symlink_to(target)
    else:  # a file under this fingerprint holding other shapes
        from safetensors.torch import load_file, save_file

        tensors = load_file(path)
        tensors = {k: v[:-1] for k, v in tensors.items()}
        save_file(tensors, path, metadata={"videopipe-int8-weights": '{"format": 1, "layers": 2}'})
    again = _lm()
    quantize_model(again, "int8-weights", language_model="0", store=store)
    for k, v in expected.items():
        assert torch.equal(_quantized_state(again)[k], v), k
    if damage != "symlink":
        assert Int8WeightStore(tmp_path).read(dict(_plain_layers(_lm()))) is not None  # rewritten


def _quantize_plain(model: torch.nn.Module) -> torch.nn.Module:
    quantize_model(model, "int8-weights", language_model="0")
    return model


def _plain_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    return [(n, m) for n, m in model[0].named_modules() if isinstance(m, torch.nn.Linear)]


def test_other_weights_get_their_own_file_and_the_folder_keeps_the_last_two(tmp_path: Path) -> None:
    from videopipe.models.quantize_store import KEEP_FILES, Int8WeightStore

    store = Int8WeightStore(tmp_path)
    for seed in range(KEEP_FILES + 1):
        quantize_model(_lm(seed), "int8-weights", language_model="0", store=store)
    assert len(list(tmp_path.glob("*.safetensors"))) == KEEP_FILES
    assert store.read(dict(_plain_layers(_lm(KEEP_FILES)))) is not None  # the newest stays
    assert store.read(dict(_plain_layers(_lm(0)))) is None  # the oldest went


def test_the_pipeline_keeps_the_int8_weights_in_its_cache_folder(tiny_dirs: dict, tmp_path: Path) -> None:
    from videopipe.pipeline import _load_model

    base = PipelineConfig(
        model=str(tiny_dirs["smolvlm"]), device="cpu", dtype="bfloat16", cache_dir=str(tmp_path)
    )
    _load_model(base)
    assert len(list((tmp_path / "int8-weights").glob("*.safetensors"))) == 1
    off = tmp_path / "off"
    _load_model(base.with_overrides(cache_tokens=False, cache_dir=str(off)))
    assert not (off / "int8-weights").exists()
