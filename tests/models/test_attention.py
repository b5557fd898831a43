"""The CPU attention (``videopipe/models/attention.py``) is transformers' sdpa attention, with a
faster decoding step for grouped-query attention; and decoding runs one token per step on the
KV cache (the language model is called once for the prompt and once per new token)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames, native_inputs

from videopipe.models.attention import CPU_ATTENTION, cpu_attention_forward

QUESTION = "What happens in this video?"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("heads,kv_heads,q_len", [(15, 5, 1), (8, 8, 1), (15, 5, 7)])
def test_cpu_attention_equals_transformers_sdpa(
    dtype: torch.dtype, heads: int, kv_heads: int, q_len: int
) -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, heads, q_len, 64, generator=g).to(dtype)
    k = torch.randn(1, kv_heads, 300, 64, generator=g).to(dtype)
    v = torch.randn(1, kv_heads, 300, 64, generator=g).to(dtype)
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads, is_causal=True)
    ours, _ = cpu_attention_forward(module, q, k, v, None, scaling=0.125)
    ref, _ = sdpa_attention_forward(module, q, k, v, None, scaling=0.125)
    assert ours.shape == ref.shape == (1, q_len, heads, 64)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    assert float((ours.float() - ref.float()).abs().max()) <= tol


def test_cpu_models_load_the_cpu_attention(adapters: dict[str, Any], family: str) -> None:
    assert adapters[family].model.config._attn_implementation == CPU_ATTENTION


def test_greedy_tokens_equal_transformers_sdpa_generate(adapters: dict[str, Any], family: str) -> None:
    """The reference: transformers' own ``model.generate`` with its plain sdpa attention."""
    ad = adapters[family]
    frames = make_frames(family, 4)
    tokens = ad.encode(frames, duration_s=2.0)
    ours = ad.generate(tokens, QUESTION, max_new_tokens=8)
    native = native_inputs(ad, frames, ad.chat_text(QUESTION, tokens))
    ad.model.set_attn_implementation("sdpa")
    try:
        with torch.inference_mode():
            out = ad.model.generate(**native, max_new_tokens=8, do_sample=False)
    finally:
        ad.model.set_attn_implementation(CPU_ATTENTION)
    expected = ad.tokenizer.decode(out[0, native["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    assert ours == expected


def test_decoding_feeds_one_token_per_step(adapters: dict[str, Any], family: str) -> None:
    """The KV cache is used: one language-model call for the prompt, then one per new token fed
    back, each with one token (a regression here costs the whole prompt per token)."""
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4), duration_s=2.0)
    lengths: list[int] = []
    hook = ad._language_model.register_forward_pre_hook(
        lambda _m, _a, kw: lengths.append(int(kw["inputs_embeds"].shape[1])), with_kwargs=True
    )
    try:
        ad.generate(tokens, QUESTION, max_new_tokens=6)
    finally:
        hook.remove()
    gen = ad.last_generation
    fed_back = gen.completion_tokens - (1 if gen.finish_reason == "length" else 0)
    assert len(lengths) == 1 + fed_back
    assert lengths[0] == gen.prompt_tokens
    assert lengths[1:] == [1] * fed_back
