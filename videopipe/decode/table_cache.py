"""On-disk cache of frame tables that cost a full decode (``FrameIndex.source`` is
``TableSource.DECODE``: files whose timestamps lie), so a second open of the same file does
not decode it again.

Keyed by the file's path, size and modification time, the video stream and a format version;
stored as ``.npz`` under ``<cache dir>/frame-tables/`` (see
:func:`videopipe.config.default_cache_dir`). A missing, unreadable or stale entry is a miss,
never an error: the table is simply decoded again. The table's on-disk format (which arrays,
how a :class:`~videopipe.decode.frame_table.FrameIndex` is written and read back) lives here.
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from videopipe.cache_files import save_atomic
from videopipe.decode.frame_table import FrameIndex, TableSource
from videopipe.settings import default_cache_dir

__all__ = ["load_frame_table", "load_table", "save_frame_table", "save_table", "table_key"]

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
    try:
        f = _file(table_key(path, stream_index))
    except OSError:  # the video is gone: nothing to key the entry by
        return
    save_atomic(f, lambda out: np.savez(out, version=np.int64(_VERSION), **arrays), suffix=".npz.tmp")


def table_arrays(index: FrameIndex) -> dict[str, np.ndarray]:
    """The arrays a decoded table is stored as (the on-disk format)."""
    return {
        "pts": index.pts,
        "tb": np.asarray([index.time_base.numerator, index.time_base.denominator], np.int64),
        "key_pts": index.key_pts,
        "key_seek": index.key_seek,
        "last_duration": np.int64(index.last_duration),
        "access": np.str_(index.access.value),
        "access_reason": np.str_(index.access_reason),
        "decoder_pts": index.decoder_pts if index.decoder_pts is not None else np.zeros(0, np.int64),
        "frames_lost": np.int64(index.frames_lost),
    }


def table_from_arrays(z: dict[str, np.ndarray]) -> FrameIndex | None:
    """The decoded table stored as ``z`` (see :func:`table_arrays`), or None when the arrays
    are of another shape (then the table is decoded again)."""
    try:
        return FrameIndex(
            pts=z["pts"],
            time_base=Fraction(int(z["tb"][0]), int(z["tb"][1])),
            key_pts=z["key_pts"],
            key_seek=z["key_seek"],
            last_duration=int(z["last_duration"]),
            frames_lost=int(z["frames_lost"]),
            source=TableSource.DECODE,
            access=str(z["access"]),
            access_reason=str(z["access_reason"]),
            decoder_pts=z["decoder_pts"] if z["decoder_pts"].shape[0] else None,
        )
    except (KeyError, IndexError, ValueError):
        return None


def load_frame_table(path: str, stream_index: int) -> FrameIndex | None:
    """The decoded table of stream ``stream_index`` of ``path`` kept on disk, or None (no
    entry, a stale one, or one of another shape)."""
    z = load_table(path, stream_index)
    return None if z is None else table_from_arrays(z)


def save_frame_table(path: str, stream_index: int, index: FrameIndex) -> None:
    """Keep a decoded table on disk (best effort)."""
    save_table(path, stream_index, table_arrays(index))
