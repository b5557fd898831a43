"""``query``: text-guided token selection (in the spirit of PPLLaVA and QuoTA).

PPLLaVA (Liu et al., 2024) pools visual tokens with weights from their relevance to the
user's prompt; QuoTA (Luo et al., 2025) assigns token budgets by query relevance. Here, with
a query embedding in the same space as the visual features (e.g. the LLM's embedding of the
question projected like the visual tokens, or a CLIP text vector for CLIP features):

1. ``query_share`` of the budget goes to the tokens most similar to the query (cosine);
2. the rest is filled by DivPrune's greedy max-min diversity, seeded with those tokens, so
   the context outside the query's focus is still covered.

Without a query embedding it is ``divprune``. ``fold_dropped`` merges the dropped tokens
into their nearest kept token (sizes add up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from videopipe.compressors._ops import unit_features
from videopipe.compressors.divprune import DivPrune, farthest_point, keep_or_fold, sketch
from videopipe.errors import ConfigError
from videopipe.types import VisualTokens
from videopipe.validate import in_range, positive


@dataclass(frozen=True)
class QueryConfig:
    """query_share: fraction of the budget picked by query relevance (the rest by diversity).
    fold_dropped: merge dropped tokens into their nearest kept token.
    default_keep: fraction kept as an earlier chain stage (no budget of its own).
    sketch_dim: run the diversity step on a random projection to this many dims (None: exact)."""

    query_share: float = 0.5
    fold_dropped: bool = False
    default_keep: float = 0.5
    sketch_dim: int | None = None

    def __post_init__(self) -> None:
        in_range("query.query_share", self.query_share, 0.0, 1.0)
        in_range("query.default_keep", self.default_keep, 1e-6, 1.0)
        if self.sketch_dim is not None:
            positive("query.sketch_dim", self.sketch_dim)


class QueryGuided(DivPrune):
    """DivPrune seeded with the tokens most relevant to the query."""

    name = "query"
    config_class = QueryConfig  # type: ignore[assignment]

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        x = unit_features(tokens)
        init = None
        if query_embedding is not None:
            q = torch.as_tensor(query_embedding).to(device=x.device, dtype=x.dtype).reshape(-1)
            if q.numel() != x.shape[1]:
                raise ConfigError(
                    f"query compressor: query_embedding has {q.numel()} values but the visual tokens have "
                    f"dimension {x.shape[1]}; embed the query into the visual feature space"
                )
            rel = x @ torch.nn.functional.normalize(q, dim=0)
            n_query = min(budget, math.ceil(budget * self.config.query_share))
            init = torch.sort(rel, descending=True, stable=True).indices[:n_query]
        keep = farthest_point(sketch(x, self.config.sketch_dim), budget, init=init)
        return keep_or_fold(tokens, x, keep, self.config.fold_dropped)
