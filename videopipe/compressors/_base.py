"""What every compressor shares: config handling and the protocol's contract.

A compressor is a class with a frozen config dataclass (``config_cls``), a ``name`` and
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

import dataclasses
from abc import abstractmethod
from typing import Any, ClassVar

import torch

from videopipe.errors import ConfigError
from videopipe.protocols import Compressor
from videopipe.types import VisualTokens


def check_budget(budget: object) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"compressor budget must be an int >= 1 (visual tokens), got {budget!r}")
    return budget


class BaseCompressor(Compressor):
    """Base class: subclasses set ``name``, ``config_cls`` and implement ``_compress``."""

    name: ClassVar[str] = ""
    config_cls: ClassVar[type[Any]]
    merges: ClassVar[bool] = True  # output sizes sum to the input's (False: pruning)

    def __init__(self, config: Any | None = None, /, **overrides: Any) -> None:
        base = config if config is not None else self.config_cls()
        if not isinstance(base, self.config_cls):
            raise ConfigError(
                f"{self.name}: config must be a {self.config_cls.__name__}, got {type(base).__name__}"
            )
        valid = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ConfigError(
                f"{self.name}: unknown option(s) {', '.join(unknown)}; valid options: {', '.join(sorted(valid)) or '(none)'}"
            )
        self.config = dataclasses.replace(base, **overrides)

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"
