"""Chaining compressors: ``"temporal_merge+progressive"``.

Semantics: the stages run left to right. Every stage but the last runs at its own default
(``default_budget``: what it keeps on its own, e.g. ``temporal_merge`` merges every pair at
least ``pair_threshold`` similar, ``progressive`` keeps what its novelty scan keeps, ``pool``
pools with stride 2), but never below the final budget; the last stage enforces the budget.
So a chain with ``budget >= len(tokens)`` is the identity, like every single compressor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from videopipe.compressors._base import check_budget
from videopipe.errors import ConfigError
from videopipe.protocols import Compressor
from videopipe.types import VisualTokens


class Chain:
    """Compressors applied in sequence; the budget is enforced by the last one."""

    def __init__(self, stages: Sequence[Compressor]) -> None:
        if not stages:
            raise ConfigError("a compressor chain needs at least one stage")
        self.stages = tuple(stages)
        self.name = "+".join(s.name for s in self.stages)

    @property
    def merges(self) -> bool:
        return all(s.merges for s in self.stages)

    def __call__(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None = None
    ) -> VisualTokens:
        budget = check_budget(budget)
        for stage in self.stages[:-1]:
            if len(tokens) <= budget:
                return tokens
            own = stage.default_budget(tokens)
            tokens = stage(tokens, max(budget, own), query_embedding=query_embedding)
        return self.stages[-1](tokens, budget, query_embedding=query_embedding)

    def __repr__(self) -> str:
        return f"Chain({', '.join(repr(s) for s in self.stages)})"
