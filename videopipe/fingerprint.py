"""Content fingerprints of files, the key of every on-disk cache that depends on a video's
content (visual tokens, transcripts, screen text)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["file_fingerprint"]

_CHUNK = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    """A content fingerprint of a file that is cheap for multi-GB videos."""
    p = Path(path).resolve()
    st = p.stat()
    h = hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    with open(p, "rb") as f:
        h.update(f.read(_CHUNK))
        if st.st_size > 2 * _CHUNK:
            f.seek(-_CHUNK, os.SEEK_END)
            h.update(f.read(_CHUNK))
    return h.hexdigest()
