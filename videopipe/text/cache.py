"""On-disk cache of transcripts and screen text, so a second question, a re-index or a second
``transcribe`` of the same video runs no ASR and no OCR.

Key = the file's content fingerprint (:func:`videopipe.fingerprint.file_fingerprint`: path,
size, mtime and the first and last MiB) + the kind (``speech`` / ``screen``) + the config key
(model, compute type, VAD, ... : what changes the text) + a format version. Entries are JSON
under ``<cache dir>/text/`` (the cache directory of :func:`videopipe.settings.default_cache_dir`,
``$VIDEOPIPE_CACHE``), written atomically; a missing, corrupt or stale entry is a miss, never
an error, and a read-only cache directory only loses the saving.

:data:`TEXT_CACHE_COUNTERS` counts hits, misses and writes (tests read them); the stages' own
counters (:data:`~videopipe.text.speech.ASR_COUNTERS`, :data:`~videopipe.text.screen.OCR_COUNTERS`)
prove that a hit ran no model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from videopipe.cache_files import CacheCounters, save_atomic
from videopipe.fingerprint import file_fingerprint
from videopipe.settings import default_cache_dir
from videopipe.text.timeline import TextLine

__all__ = ["TEXT_CACHE_COUNTERS", "CachedText", "TextCache"]

_VERSION = 1


TEXT_CACHE_COUNTERS = CacheCounters()


@dataclass(frozen=True)
class CachedText:
    """A cached result: the lines and the notes that came with them."""

    lines: tuple[TextLine, ...]
    notes: tuple[str, ...] = ()


class TextCache:
    """``load``/``save`` the lines of one (video, kind, config) under ``root``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "text"

    def key(self, video: str | Path, *, kind: str, config_key: str) -> str:
        blob = "\n".join([file_fingerprint(video), kind, config_key, f"v{_VERSION}"])
        return hashlib.sha1(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> CachedText | None:
        p = self._path(key)
        try:
            with open(p, encoding="utf-8") as f:
                blob = json.load(f)
            if blob.get("version") != _VERSION:
                raise ValueError("stale")
            got = CachedText(
                tuple(TextLine.from_dict(d) for d in blob["lines"]),
                tuple(str(n) for n in blob.get("notes", ())),
            )
        except (OSError, ValueError, KeyError, TypeError):  # missing or corrupt: a miss
            TEXT_CACHE_COUNTERS.misses += 1
            return None
        TEXT_CACHE_COUNTERS.hits += 1
        return got

    def save(self, key: str, entry: CachedText) -> Path | None:
        """Write ``entry`` (best effort: None when the cache directory cannot be written)."""
        p = self._path(key)
        blob = {
            "version": _VERSION,
            "lines": [ln.to_dict() for ln in entry.lines],
            "notes": list(entry.notes),
        }
        if not save_atomic(p, lambda f: f.write(json.dumps(blob).encode("utf-8"))):
            return None
        TEXT_CACHE_COUNTERS.writes += 1
        return p
