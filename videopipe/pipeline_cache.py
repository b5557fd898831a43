"""The pipeline's token cache (:mod:`videopipe.cache`) as the pipeline uses it: where it is,
the key of a video's tokens, whether they are there, and a write that only costs time when it
fails. :class:`TokenCacheUse` is mixed into :class:`videopipe.pipeline.Pipeline`, which
provides what it declares.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.errors import one_line
from videopipe.stages import CacheWarning

if TYPE_CHECKING:
    from videopipe.cache import TokenCache
    from videopipe.config import PipelineConfig
    from videopipe.model_records import ModelFacts
    from videopipe.types import Budget, Selection, VisualTokens

__all__ = ["TokenCacheUse"]


class TokenCacheUse:
    """Token-cache helpers of a pipeline (see the module docstring)."""

    config: PipelineConfig
    facts: ModelFacts
    budget: Budget
    sampler_name: str
    query_dependent: bool
    _cache_off: bool  # set when the token cache could not be written

    def token_cache_key(self, path: Path) -> str | None:
        """The token-cache key of the checked video ``path``; None when the cache is off or
        the tokens depend on the question (a query-aware sampler or retrieval)."""
        cache = self._token_cache()
        if cache is None or self.query_dependent:
            return None
        return cache.key(
            path,
            sampler=self.sampler_name,
            budget=self.budget,
            model=self.facts.model_id,
            quantize=self.config.quantize,
            vision_merge=self.config.vision_merge,
        )

    def tokens_cached(self, path: Path) -> bool:
        """True when the token cache holds the tokens of the checked video ``path`` (a
        question about it decodes and encodes nothing)."""
        return self._token_cached(self.token_cache_key(path))

    def _token_cached(self, key: str | None) -> bool:
        cache = self._token_cache()
        return key is not None and cache is not None and cache.contains(key)

    def _token_cache(self) -> TokenCache | None:
        if not self.config.cache_tokens or self._cache_off:
            return None
        from videopipe.cache import TokenCache

        return TokenCache(self.config.resolved_cache_dir() / "tokens")

    def _save_tokens(self, cache: TokenCache, key: str, tokens: VisualTokens, selection: Selection) -> None:
        """Save to the token cache; a cache that cannot be written (a file where its folder
        belongs, read-only, a full disk) only costs time: one warning, then no cache."""
        try:
            cache.save(key, tokens, selection)
        except (OSError, RuntimeError) as e:  # OSError: a full disk too (save_tensors_atomic)
            self._cache_off = True
            warnings.warn(
                f"token cache {cache.root} cannot be written ({type(e).__name__}: {one_line(e)}); "
                "going on without it (set VIDEOPIPE_CACHE to a writable folder, or pass --no-cache)",
                CacheWarning,
                stacklevel=2,
            )
