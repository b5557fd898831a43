"""Content fingerprints of files, the key of every on-disk cache that depends on a video's
content (visual tokens, transcripts, screen text); :class:`FileMemo` for in-process results
of unchanged files."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["file_fingerprint", "FileMemo"]

_CHUNK = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    """A content fingerprint of a file that is cheap for multi-GB videos."""
    p = Path(path).resolve()
    st = p.stat()
    # os.fsencode: a file name that is not UTF-8 (bytes kept as surrogates) hashes too
    h = hashlib.sha1(os.fsencode(p) + f"|{st.st_size}|{st.st_mtime_ns}".encode())
    with open(p, "rb") as f:
        h.update(f.read(_CHUNK))
        if st.st_size > 2 * _CHUNK:
            f.seek(-_CHUNK, os.SEEK_END)
            h.update(f.read(_CHUNK))
    return h.hexdigest()


class FileMemo:
    """Results computed from a file, kept in this process while the file is unchanged (same
    resolved path, size and modification time; :meth:`key`), for the last ``size`` keys:
    ``videopipe ask`` probes a video before it opens it, a pipeline asked many questions opens
    the same video each time, and a model's facts and its adapter read the same checkpoint."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(path: str | Path, *extra: Any) -> tuple[Any, ...] | None:
        try:
            st = os.stat(path)
            return (os.path.realpath(path), st.st_size, st.st_mtime_ns, *extra)
        except OSError:
            return None

    def get(self, key: tuple[Any, ...] | None) -> Any:
        if key is None:
            return None
        with self._lock:
            return self._items.get(key)

    def cached(
        self,
        key: tuple[Any, ...] | None,
        compute: Callable[[], Any],
        *,
        keep: Callable[[Any], bool] | None = None,
    ) -> Any:
        """What is remembered for ``key``, else ``compute()`` -- remembered (:meth:`put`) unless
        ``keep`` says not to. A None key (the file cannot be stat'ed) is computed every time."""
        known = self.get(key)
        if known is not None:
            return known
        value = compute()
        return self.put(key, value) if keep is None or keep(value) else value

    def put(self, key: tuple[Any, ...] | None, value: Any) -> Any:
        """Remember ``value`` and return what is remembered for ``key``: a value another
        thread put first wins, so every caller shares one object."""
        if key is None:
            return value
        with self._lock:
            value = self._items.pop(key, value)
            self._items[key] = value  # most recently used last
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))
        return value
