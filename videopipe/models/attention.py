"""The attention the adapters load on the CPU: transformers' ``sdpa``, except for one step of
decoding with grouped-query attention.

transformers' ``sdpa`` attends one new token to the KV cache with
``scaled_dot_product_attention(..., enable_gqa=True)`` whenever no mask is needed, which is every
decoding step. On the CPU in bfloat16 torch runs that call 6-7x slower than the same attention
with the query heads packed onto their key/value heads (``[batch, kv_heads, groups, dim]``, no
``enable_gqa``): 1.8 ms against 0.27 ms per layer at 1,100 cached tokens, about 60 ms of a
200 ms decoding step of SmolLM2-360M (benchmarks/results/real_size.md, "Decoding"). Here that
step packs the heads itself; everything else (prefill, the vision towers, masked calls) is
transformers' ``sdpa`` unchanged, and the result is the same attention (tests/models/test_attention.py).

Registered under :data:`CPU_ATTENTION` in transformers' attention and mask interfaces (the mask
is sdpa's); ``load_weights`` asks for it on the CPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CPU_ATTENTION", "cpu_attention_forward", "register_cpu_attention"]

#: the attn_implementation name the CPU path loads models with
CPU_ATTENTION = "videopipe_sdpa"


def cpu_attention_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' sdpa attention; one unmasked query token with fewer key/value heads than
    query heads attends with the query heads packed onto their key/value heads."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    if (
        q_len != 1
        or dropout
        or attention_mask is not None
        or kv_heads == heads
        or heads % kv_heads
        or kwargs.get("position_bias") is not None
        or kwargs.get("cache") is not None
        or key.shape[-1] != value.shape[-1]
    ):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    import torch

    # query head h reads key/value head h // groups (transformers' repeat_kv): consecutive
    # query heads share one key/value head, so [batch, heads, 1, dim] -> [batch, kv, groups, dim]
    packed = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    out = torch.nn.functional.scaled_dot_product_attention(packed, key, value, scale=scaling)
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def register_cpu_attention() -> str:
    """Register :data:`CPU_ATTENTION` with transformers (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(CPU_ATTENTION, cpu_attention_forward)
    AttentionMaskInterface.register(CPU_ATTENTION, sdpa_mask)
    return CPU_ATTENTION
