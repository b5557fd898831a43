"""What the on-disk caches share: the small ones' (transcripts, text embeddings, descriptions,
frame tables) hit/miss/write counters and best-effort atomic write of one entry, and the atomic
write of one safetensors entry (visual tokens, prompt KV caches)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["CacheCounters", "save_atomic", "save_tensors_atomic"]


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


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of ``t`` (any dtype, bfloat16 included), for hashing a cache key."""
    import torch

    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.dtype != torch.bool else flat.numpy().tobytes()


def save_tensors_atomic(path: Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` (CPU, contiguous, sharing no memory) as one safetensors file at
    ``path``, through a temporary file next to it renamed into place. An ``OSError`` when it
    cannot be written -- safetensors reports a full disk as its own ``SafetensorError``, which
    is raised as ``OSError`` here so that callers catch one kind -- and nothing left behind."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(dict(tensors), tmp, metadata=metadata)
        os.replace(tmp, path)
    except SafetensorError as e:
        raise OSError(f"{path} cannot be written: {e}") from e
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
