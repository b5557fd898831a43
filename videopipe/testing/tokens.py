"""Random VisualTokens for tests of compressors and anything that consumes tokens."""

from __future__ import annotations

import torch

from videopipe.types import VisualTokens

DEEP_DIM = 3


def deep_projection(dim: int) -> torch.Tensor:
    """Fixed linear map features -> the 'deepstack' extra: merging commutes with it, so
    ``extras['deep'] == features @ W`` must hold after any select/merge."""
    g = torch.Generator().manual_seed(1234)
    return torch.randn(dim, 2, DEEP_DIM, generator=g, dtype=torch.float64)


def make_tokens(
    grids: list[tuple[int, int]],
    dim: int,
    *,
    seed: int = 0,
    repeat_prev: list[bool] | None = None,
    keep_fraction: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> VisualTokens:
    """Random tokens on per-frame grids ``grids`` (frames 0,3,6,... at 0.1 s steps).

    ``repeat_prev[t]``: frame t repeats frame t-1 (same grid needed). ``keep_fraction`` < 1
    drops random tokens (as after an earlier compression stage)."""
    g = torch.Generator().manual_seed(seed)
    feats, fidx, times, rows, cols = [], [], [], [], []
    prev = None
    for t, (h, w) in enumerate(grids):
        f = torch.randn(h, w, dim, generator=g, dtype=torch.float64)
        if repeat_prev and repeat_prev[t] and prev is not None and prev.shape == f.shape:
            f = prev + 1e-3 * torch.randn(h, w, dim, generator=g, dtype=torch.float64)
        prev = f
        feats.append(f.reshape(-1, dim))
        fidx.append(torch.full((h * w,), 3 * t))
        times.append(torch.full((h * w,), 0.1 * t, dtype=torch.float64))
        rows.append(torch.arange(h).repeat_interleave(w))
        cols.append(torch.arange(w).repeat(h))
    x = torch.cat(feats)
    keep = torch.rand(x.shape[0], generator=g) < keep_fraction
    keep[0] = True
    w_deep = deep_projection(dim)
    vt = VisualTokens(
        features=x[keep].to(dtype),
        frame_idx=torch.cat(fidx)[keep],
        time_s=torch.cat(times)[keep],
        row=torch.cat(rows)[keep],
        col=torch.cat(cols)[keep],
        size=torch.ones(int(keep.sum()), dtype=torch.float64),
        extras={"deep": torch.einsum("nd,dke->nke", x[keep], w_deep)},
    )
    return vt
