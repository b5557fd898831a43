"""What every compressor shares: config handling and the protocol's contract.

A compressor is a class with a frozen config dataclass (``config_class``, see :class:`videopipe.plugin.BasePlugin`), a ``name`` and
``__call__(tokens, budget, *, query_embedding=None)``. The base ``__call__`` enforces the
contract once for all of them:

- ``budget`` is an int >= 1 (else :class:`~videopipe.errors.ConfigError`);
- identity when ``budget >= len(tokens)`` (the very same object is returned);
- input put in (time, row, col) order first; the output is ordered and never over budget.

Subclasses implement ``_compress`` (only called with ``len(tokens) > budget``) and
``default_budget`` (how many tokens they keep on their own, used when they are an earlier
stage of a chain).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from videopipe.errors import ConfigError
from videopipe.plugin import BasePlugin, ConfigT
from videopipe.protocols import Compressor
from videopipe.types import VisualTokens


def check_budget(budget: object) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"compressor budget must be an int >= 1 (visual tokens), got {budget!r}")
    return budget


class BaseCompressor(BasePlugin[ConfigT], Compressor):
    """Base class: subclasses set ``name``, name their config as the type parameter
    (``BaseCompressor[PoolConfig]``) and implement ``_compress``."""

    name: ClassVar[str] = ""
    merges: ClassVar[bool] = True  # output sizes sum to the input's (False: pruning)

    def __call__(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None = None
    ) -> VisualTokens:
        budget = check_budget(budget)
        if len(tokens) <= budget:
            return tokens
        out = self._compress(tokens.sorted(), budget, query_embedding=query_embedding)
        if len(out) > budget:  # pragma: no cover - a bug in a subclass, never user input
            raise RuntimeError(f"{self.name} returned {len(out)} tokens for a budget of {budget}")
        return out

    @abstractmethod
    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        """The method: only called with ``len(tokens) > budget``, tokens in (t, row, col) order."""


class FoldablePruner(BaseCompressor[ConfigT]):
    """A pruner whose config's ``fold_dropped`` folds each dropped token into a kept one
    instead: then it merges (output sizes sum to the input's)."""

    @property
    def merges(self) -> bool:  # type: ignore[override]
        return bool(self.config.fold_dropped)
