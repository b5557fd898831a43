"""Fidelity of a compression: how well the kept tokens still represent the original ones."""

from __future__ import annotations

from videopipe.compressors._ops import cosine_chunks, unit_features
from videopipe.types import VisualTokens


def token_coverage(original: VisualTokens, compressed: VisualTokens) -> float:
    """Size-weighted mean, over the original tokens, of the best cosine similarity to any
    compressed token (1.0: every original token has an exact copy in the compressed set)."""
    if len(original) == 0:
        return 1.0
    if len(compressed) == 0:
        return 0.0
    a = unit_features(original)
    b = unit_features(compressed.to(original.device)).to(a.dtype)
    best, _ = cosine_chunks(a, b)
    w = original.size.to(best.dtype)
    return float((best * w).sum() / w.sum())


def drop_frames_uniform(tokens: VisualTokens, budget: int) -> VisualTokens:
    """Baseline: keep whole frames spread uniformly over time, as many as fit the budget
    (at least one frame, truncated to the budget if even one does not fit)."""
    import torch

    if len(tokens) <= budget:
        return tokens
    frames, inverse, counts = torch.unique(tokens.frame_idx, return_inverse=True, return_counts=True)
    per_frame = int(counts.max())
    k = max(1, min(len(frames), budget // per_frame))
    pick = torch.floor((torch.arange(k, device=tokens.device) + 0.5) * len(frames) / k).long()
    keep = torch.zeros(len(frames), dtype=torch.bool, device=tokens.device)
    keep[pick] = True
    idx = torch.nonzero(keep[inverse]).squeeze(1)[:budget]
    return tokens.select(idx)
