"""On-disk cache of frame tables that cost a full decode (``FrameIndex.source == "decode"``:
files whose timestamps lie), so a second open of the same file does not decode it again.

Keyed by the file's path, size and modification time, the video stream and a format version;
stored as ``.npz`` under ``<cache dir>/frame-tables/`` (see
:func:`videopipe.config.default_cache_dir`). A missing, unreadable or stale entry is a miss,
never an error: the table is simply decoded again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from videopipe.config import default_cache_dir

__all__ = ["load_table", "save_table", "table_key"]

_VERSION = 2  # 2: frames_lost is stored


def table_key(path: str, stream_index: int) -> str:
    st = os.stat(path)
    blob = f"{_VERSION}|{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{stream_index}"
    return hashlib.sha1(blob.encode("utf-8", "surrogateescape")).hexdigest()  # non-UTF-8 names too


def _file(key: str) -> Path:
    return default_cache_dir() / "frame-tables" / f"{key}.npz"


def load_table(path: str, stream_index: int) -> dict[str, np.ndarray] | None:
    """The cached arrays of ``path``'s decoded table, or None (miss, stale or unreadable)."""
    try:
        f = _file(table_key(path, stream_index))
        if not f.is_file():
            return None
        with np.load(f, allow_pickle=False) as z:
            if int(z["version"]) != _VERSION:
                return None
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        return None


def save_table(path: str, stream_index: int, arrays: dict[str, np.ndarray]) -> None:
    """Store a decoded table's arrays (best effort: a read-only or full cache is ignored)."""
    tmp = None
    try:
        f = _file(table_key(path, stream_index))
        f.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=f.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as out:
            np.savez(out, version=np.int64(_VERSION), **arrays)
        os.replace(tmp, f)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
