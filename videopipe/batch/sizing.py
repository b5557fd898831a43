"""How many local workers a batch starts: never more than it has videos, and no more than
the available memory holds (``--workers 100`` on one machine used to start 100 processes and
exhaust its memory)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

__all__ = ["WORKER_BASE_BYTES", "available_memory_bytes", "worker_count", "worker_memory_bytes"]

#: what one worker process holds without a model: the interpreter with torch, a decoder and
#: the pipeline imported (about 0.5 GB resident), plus the frames of the video in flight
#: (64 frames at 448 px are ~60 MB; long videos' tables and buffers more): 1 GiB, rounded up
WORKER_BASE_BYTES = 1 << 30

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class WorkerCountWarning(UserWarning):
    """``--workers`` was lowered to what the available memory holds."""


def available_memory_bytes() -> int | None:
    """``MemAvailable`` of /proc/meminfo (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def worker_memory_bytes(spec_kwargs: dict[str, Any], *, runs_model: bool) -> int:
    """The estimate for one worker: :data:`WORKER_BASE_BYTES`, plus the model's weight files
    when the worker loads the model itself (``runs_model``) and they are in a local folder."""
    need = WORKER_BASE_BYTES
    model = (spec_kwargs.get("config") or {}).get("model") if runs_model else None
    if isinstance(model, str) and Path(model).is_dir():
        need += sum(
            p.stat().st_size for p in Path(model).iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file()
        )
    return need


def worker_count(asked: int, *, jobs: int, per_worker: int, available: int | None) -> int:
    """``asked`` workers, but at most one per job, and at most what ``available`` bytes hold at
    ``per_worker`` each (at least one); a warning line when memory lowered the count."""
    n = max(1, min(asked, jobs))
    if available is None:
        return n
    fits = max(1, available // per_worker)
    if fits < n:
        warnings.warn(
            f"--workers {asked}: starting {fits} worker(s); {available / 2**30:.1f} GiB of memory is "
            f"available and each worker needs about {per_worker / 2**30:.1f} GiB",
            WorkerCountWarning,
            stacklevel=2,
        )
        return fits
    return n
