"""On-disk cache of text embeddings, so a second ``chapters`` or ``locate`` over the same
transcript embeds nothing.

Key = the embedder's ``space`` (model + version, :class:`~videopipe.protocols.Embedder`), its
``cache_tag`` when it has one (what else changes the vectors, e.g. the compute dtype) and the
exact texts in order, + a format version. The value is the float32 ``[N, dim]`` matrix, one
``.npy`` under ``<cache dir>/text-embeddings/`` (``$VIDEOPIPE_CACHE``), written atomically; a
missing or corrupt entry is a miss, never an error, and a read-only cache directory only loses
the saving. :data:`EMBED_CACHE_COUNTERS` counts hits, misses and writes (tests read them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videopipe.cache_files import CacheCounters, save_atomic
from videopipe.settings import default_cache_dir

if TYPE_CHECKING:
    from videopipe.protocols import Embedder

__all__ = ["EMBED_CACHE_COUNTERS", "embed_texts_cached", "embedding_key"]

_VERSION = 1


EMBED_CACHE_COUNTERS = CacheCounters()


def embedding_key(embedder: Embedder, texts: Sequence[str]) -> str:
    """The cache key of ``texts`` embedded by ``embedder``."""
    h = hashlib.sha1(
        f"v{_VERSION}\n{embedder.space}\n{getattr(embedder, 'cache_tag', '')}\n{len(texts)}".encode()
    )
    for t in texts:
        h.update(b"\x1f" + t.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def embed_texts_cached(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    """``embedder.embed_texts(texts)`` as float32 numpy, read from / written to the cache
    (``cache_dir``: the base cache directory, None: the default one; ``cache=False``: always
    computed, nothing written)."""
    if not cache or not texts:
        return _embed(embedder, texts)
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "text-embeddings"
    key = embedding_key(embedder, texts)
    path = root / key[:2] / f"{key}.npy"
    try:
        got = np.load(path, allow_pickle=False)
        if got.dtype != np.float32 or got.ndim != 2 or got.shape[0] != len(texts):
            raise ValueError("stale")
    except (OSError, ValueError, EOFError):
        EMBED_CACHE_COUNTERS.misses += 1
    else:
        EMBED_CACHE_COUNTERS.hits += 1
        return got
    out = _embed(embedder, texts)
    if save_atomic(path, lambda f: np.save(f, out, allow_pickle=False)):
        EMBED_CACHE_COUNTERS.writes += 1
    return out


def _embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    return np.ascontiguousarray(embedder.embed_texts(list(texts)).numpy(), dtype=np.float32)
