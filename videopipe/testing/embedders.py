"""Deterministic stand-in embedders for tests of the retrieval machinery (not of semantics).

``HashTextEmbedder`` maps each text to a fixed pseudo-random unit vector (seeded by the
text's sha256): identical texts get identical vectors, different texts near-orthogonal ones.
It counts its calls, so tests can check what was (re-)embedded. ``SlowHashTextEmbedder`` is
the same space with a delay per call, so a test can kill an indexing process mid-run.
Both are used by import path (``--embedder videopipe.testing.embedders:HashTextEmbedder``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np
import torch

from videopipe.errors import ConfigError
from videopipe.protocols import Embedder


def hash_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class HashTextEmbedder(Embedder):
    """Texts -> deterministic unit vectors (``dim`` 32). No image space."""

    modality = "text"
    space = "test/hash-text@1"

    def __init__(self, *, dim: int = 32, delay_s: float = 0.0) -> None:
        self.dim = dim
        self.delay_s = delay_s
        self.calls = 0
        self.texts_embedded = 0

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls += 1
        self.texts_embedded += len(texts)
        if self.delay_s:
            time.sleep(self.delay_s)
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.from_numpy(np.stack([hash_vector(t, self.dim) for t in texts]))

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        raise ConfigError("HashTextEmbedder embeds texts only")


class SlowHashTextEmbedder(HashTextEmbedder):
    """:class:`HashTextEmbedder` (same space) that sleeps ``delay_s`` per call."""

    def __init__(self, *, dim: int = 32, delay_s: float = 0.25) -> None:
        super().__init__(dim=dim, delay_s=delay_s)
