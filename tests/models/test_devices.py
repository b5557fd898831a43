"""GPU (bf16, sdpa/flash-attn) and real-checkpoint checks; skipped without CUDA / network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames, native_inputs

from videopipe.testing.tiny_models import FAMILIES

QUESTION = "What happens in this video?"


def test_auto_device_and_dtype_on_cpu(adapters: dict[str, Any]) -> None:
    from videopipe.devices import cpu_bf16_native
    from videopipe.models.loading import resolve_device, resolve_dtype

    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
    want = torch.bfloat16 if cpu_bf16_native() else torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) == want
    assert all(ad.dtype == torch.float32 for ad in adapters.values())  # loaded with dtype="float32"


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, True),  # Cooper Lake, Zen 4+
        ({"avx2", "amx_tile", "amx_bf16"}, True),  # Sapphire Rapids
        ({"fp", "asimd", "bf16"}, True),  # Arm v8.6 (Graviton 3, Apple M2)
        ({"avx2", "avx512f"}, False),  # Skylake-X: bf16 only emulated
        (set(), False),  # no /proc/cpuinfo (macOS, Windows)
    ],
)
def test_auto_dtype_is_bf16_only_where_the_cpu_computes_it(flags: set[str], native: bool) -> None:
    from videopipe.devices import cpu_bf16_native

    assert cpu_bf16_native(frozenset(flags)) is native


def test_auto_dtype_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import videopipe.devices as devices
    from videopipe.models.loading import resolve_dtype

    for flags, want in ((frozenset({"avx512_bf16"}), torch.bfloat16), (frozenset({"avx2"}), torch.float32)):
        monkeypatch.setattr(devices, "cpu_flags", lambda f=flags: f)
        assert resolve_dtype("auto", torch.device("cpu")) == want
        assert resolve_dtype("float32", torch.device("cpu")) == torch.float32  # asked for: kept


def test_cuda_without_gpu_is_a_device_error() -> None:
    from videopipe.errors import DeviceError
    from videopipe.models.loading import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("family", FAMILIES)
def test_gpu_bf16_matches_native_bf16(tiny_dirs: dict[str, Path], family: str) -> None:
    from videopipe.models import load_model

    ad = load_model(tiny_dirs[family], device="cuda", dtype="auto")
    assert ad.device.type == "cuda" and ad.dtype in (torch.bfloat16, torch.float16)
    frames = make_frames(family, 4)
    tokens = ad.encode(frames, duration_s=2.0)
    assert tokens.features.is_cuda and tokens.features.dtype == ad.dtype
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens)).to("cuda")
    with torch.inference_mode():
        ref = ad.model(**native).logits[0].float()
    ours = ad.forward_logits(tokens, QUESTION)
    assert float((ours - ref).abs().max()) <= 2e-2 * max(1.0, float(ref.abs().max()))
    assert isinstance(
        ad.generate(tokens.select(torch.arange(0, len(tokens), 2)), QUESTION, max_new_tokens=4), str
    )


@pytest.mark.network
@pytest.mark.parametrize(
    "model_id",
    [
        "HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
        "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
        "Qwen/Qwen3-VL-2B-Instruct",
        "Qwen/Qwen2.5-VL-3B-Instruct",
    ],
)
def test_real_checkpoint_parity(model_id: str) -> None:
    """Real weights from the hub: identity parity with transformers and a non-empty answer."""
    from videopipe.models import load_model
    from videopipe.types import Frames

    ad = load_model(model_id, device="auto")
    h, w = ad.default_frame_size_px
    g = torch.Generator().manual_seed(0)
    n = 4
    frames = Frames(
        data=torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=g),
        pts_s=torch.arange(n) / 2.0,
        indices=torch.arange(n),
    )
    tokens = ad.encode(frames, duration_s=2.0)
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens)).to(ad.device)
    with torch.inference_mode():
        ref = ad.model(**native).logits[0].float()
    ours = ad.forward_logits(tokens, QUESTION)
    tol = 1e-3 if ad.dtype == torch.float32 else 5e-2 * float(ref.abs().max())
    assert float((ours - ref).abs().max()) <= tol
    assert ad.generate(tokens, QUESTION, max_new_tokens=16)


def test_flash_attention_only_where_gapped_positions_are_safe() -> None:
    """transformers' FA2 path reads gaps in 1-D position ids as packed sequences, so the 1-D
    RoPE families must never load with flash-attention; Qwen's 3-D positions are safe."""
    from videopipe.models.attention import CPU_ATTENTION
    from videopipe.models.checkpoint import _attn_implementation
    from videopipe.models.frame_models import LlavaOneVision, SmolVLM2
    from videopipe.models.qwen import Qwen3VL, Qwen25VL

    assert Qwen25VL.flash_attention_ok and Qwen3VL.flash_attention_ok
    assert not LlavaOneVision.flash_attention_ok and not SmolVLM2.flash_attention_ok
    assert _attn_implementation(torch.device("cuda"), allow_flash=False) == "sdpa"
    assert _attn_implementation(torch.device("cpu")) == CPU_ATTENTION  # sdpa + a faster GQA decoding step
