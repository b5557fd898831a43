"""The chunks of a summary: the spans between ``boundaries`` (chapters or scene cuts), each cut
into equal pieces of at most ``max_chunk_s`` seconds."""

from __future__ import annotations

import math
from collections.abc import Sequence

from videopipe.errors import ConfigError

__all__ = ["plan_chunks"]


def plan_chunks(
    duration_s: float, boundaries: Sequence[float], max_chunk_s: float
) -> list[tuple[float, float]]:
    if not max_chunk_s > 0:
        raise ConfigError(f"--chunk-s must be > 0 s, got {max_chunk_s}")
    edges = [0.0, *sorted(b for b in boundaries if 0.0 < b < duration_s), duration_s]
    out: list[tuple[float, float]] = []
    for a, b in zip(edges, edges[1:]):
        if b - a <= 1e-6:
            continue
        n = max(1, math.ceil((b - a) / max_chunk_s - 1e-9))
        out += [(a + (b - a) * k / n, a + (b - a) * (k + 1) / n) for k in range(n)]
    return out
