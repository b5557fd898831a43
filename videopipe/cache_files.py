"""What the small on-disk caches (transcripts, text embeddings, descriptions, frame tables)
share: their hit/miss/write counters and a best-effort atomic write of one entry."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["CacheCounters", "save_atomic"]


@dataclass
class CacheCounters:
    """Hits, misses and writes of one cache (tests read them)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0

    def reset(self) -> None:
        self.hits = self.misses = self.writes = 0


def save_atomic(path: Path, write: Callable[[IO[bytes]], object], *, suffix: str = ".tmp") -> bool:
    """Write ``path`` through ``write(file)`` into a temporary file next to it, renamed into
    place: readers see the old entry or the new one, never half of one. Best effort: False, and
    nothing left behind, when the cache directory cannot be written (read-only, full)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False
    return True
