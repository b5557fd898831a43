"""What the on-disk caches share: the small ones' (transcripts, text embeddings, descriptions,
frame tables) hit/miss/write counters and best-effort atomic write of one entry, and the atomic
write of one safetensors entry (visual tokens, prompt KV caches)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

__all__ = ["CacheCounters", "read_entry", "save_atomic", "save_tensors_atomic", "tensor_bytes"]


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


def read_entry(
    path: Path,
    metadata_key: str,
    build: Callable[[dict[str, Any], dict[str, torch.Tensor]], T | None],
    *,
    touch: bool = True,
) -> T | None:
    """One safetensors entry written by :func:`save_tensors_atomic`: ``build(metadata,
    tensors)`` on its JSON metadata (under ``metadata_key``) and every tensor in it. None for a
    missing file, a symbolic link (a cache reads only what it wrote, never what a link names),
    a file that is not such an entry, or one ``build`` refuses (returns None or raises): a bad
    cache file is a miss, never an error. ``touch``: mark a used entry recently used
    (``os.utime``), so a folder trimmed by age drops it last."""
    from safetensors import safe_open

    try:
        if path.is_symlink() or not path.is_file():
            return None
        with safe_open(path, framework="pt", device="cpu") as f:
            blob = json.loads((f.metadata() or {})[metadata_key])
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - not a dict
        entry = build(blob, tensors) if isinstance(blob, dict) else None
        if entry is not None and touch:
            os.utime(path)
    except Exception:  # noqa: BLE001 - a corrupt cache entry is a miss, never an error
        return None
    return entry
