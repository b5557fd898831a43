"""``none``: no compression. Returns the tokens unchanged when they fit the budget and
refuses (ConfigError) when they do not: truncating would silently drop the end of the video."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videopipe.compressors._base import BaseCompressor
from videopipe.errors import ConfigError
from videopipe.types import VisualTokens


@dataclass(frozen=True)
class NoneConfig:
    """No options."""


class NoCompression(BaseCompressor[NoneConfig]):
    name = "none"

    def _compress(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None
    ) -> VisualTokens:
        raise ConfigError(
            f"compressor 'none' got {len(tokens)} visual tokens for a budget of {budget}; "
            "pick a compressor (e.g. --compressor pool) or sample fewer/smaller frames"
        )
