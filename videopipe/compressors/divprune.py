"""``divprune``: keep the most diverse tokens (DivPrune).

DivPrune (Alvar et al., CVPR 2025) casts token pruning as a Max-Min Diversity Problem: keep
the subset whose smallest pairwise distance is largest, solved greedily. Greedy
farthest-point selection on cosine distance: start from the token least similar to the mean
token, then repeatedly add the token whose distance to its nearest kept token is largest.
The min-distance vector is updated with one matrix-vector product per kept token (the
method is sequential in the number of kept tokens, never in the number of input tokens).

Pruning drops tokens, so sizes do not add up unless ``fold_dropped`` is set: then every
dropped token is merged into its most similar kept token (size-weighted mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from videopipe.compressors._base import FoldablePruner
from videopipe.compressors._ops import cosine_chunks, farthest_point, unit_features
from videopipe.types import VisualTokens
from videopipe.validate import in_range, positive


@dataclass(frozen=True)
class DivPruneConfig:
    """fold_dropped: merge dropped tokens into their nearest kept token (sizes add up).
    default_keep: fraction of tokens kept as an earlier chain stage (no budget of its own).
    sketch_dim: select on a fixed random projection of the features to this many dims
    (approximate cosines, ~D/sketch_dim times less work; None: exact)."""

    fold_dropped: bool = False
    default_keep: float = 0.5
    sketch_dim: int | None = None

    def __post_init__(self) -> None:
        in_range("divprune.default_keep", self.default_keep, 1e-6, 1.0)
        if self.sketch_dim is not None:
            positive("divprune.sketch_dim", self.sketch_dim)


def sketch(x: torch.Tensor, dim: int | None) -> torch.Tensor:
    """Unit rows of ``x`` projected to ``dim`` dims by a fixed (seeded) Gaussian matrix
    (Johnson-Lindenstrauss: cosines kept approximately); ``x`` itself when not smaller."""
    if dim is None or dim >= x.shape[1]:
        return x
    g = torch.Generator().manual_seed(0)
    proj = torch.randn(x.shape[1], dim, generator=g).to(device=x.device, dtype=x.dtype)
    return torch.nn.functional.normalize(x @ proj, dim=1)


def keep_or_fold(tokens: VisualTokens, x: torch.Tensor, keep: torch.Tensor, fold: bool) -> VisualTokens:
    """Select ``keep``; with ``fold`` merge every other token into its most similar kept one."""
    if not fold:
        return tokens.select(keep)
    _, nearest = cosine_chunks(x, x[keep])
    group = nearest
    group[keep] = torch.arange(keep.numel(), device=x.device)
    return tokens.merge(group, keep)


class DivPrune(FoldablePruner[DivPruneConfig]):
    name = "divprune"

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        x = unit_features(tokens)
        keep = farthest_point(sketch(x, self.config.sketch_dim), budget)
        return keep_or_fold(tokens, x, keep, self.config.fold_dropped)

    def default_budget(self, tokens: VisualTokens) -> int:
        return max(1, math.ceil(len(tokens) * self.config.default_keep))
