"""Synthetic unit vectors for retrieval tests and benchmarks (dim 384: the MiniLM text space).

- ``clustered``: a mixture of Gaussian clusters on the sphere (about 100 vectors a cluster), like
  the clips of many videos, where a clip's neighbours are the clips around it.
- ``unstructured``: one anisotropic Gaussian, no clusters, variance falling off as 1/i over
  the directions (a power-law spectrum, the shape real sentence-embedding spaces have).
- ``isotropic``: uniform on the sphere, the worst case: in 384 dimensions every vector is
  nearly equidistant from every other, so no index finds the top-10 much faster than a scan.
"""

from __future__ import annotations

import numpy as np

DIM = 384
KINDS = ("clustered", "unstructured", "isotropic")


def synthetic_vectors(
    n: int, kind: str = "clustered", *, dim: int = DIM, seed: int = 0, chunk: int = 100_000
) -> np.ndarray:
    """``n`` float32 unit rows of the ``kind`` above, generated in chunks (bounded memory)."""
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic vector kind {kind!r}; valid: {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    centres = None
    if kind == "clustered":
        centres = rng.standard_normal((max(10, n // 100), dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    scale = (np.arange(1, dim + 1, dtype=np.float32) ** -0.5) if kind == "unstructured" else None
    out = np.empty((n, dim), np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        x = rng.standard_normal((b - a, dim)).astype(np.float32)
        if centres is not None:
            x = centres[rng.integers(0, len(centres), b - a)] + x * (0.6 / np.sqrt(dim))
        elif scale is not None:
            x *= scale
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out
