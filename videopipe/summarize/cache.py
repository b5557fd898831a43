"""Span descriptions on disk, keyed by what makes them (the video's fingerprint, the model, the
span, the frames, the prompt and the span's lines), like the token cache: a rerun, or a run
killed half-way, reads what was described already, and ``summarize`` and ``index --captions``
read each other's (:mod:`~videopipe.summarize.describer`). Entries are written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from videopipe.cache_files import save_atomic
from videopipe.config import default_cache_dir

__all__ = ["DescriptionCache"]

_VERSION = 1


class DescriptionCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "descriptions"

    def key(self, fingerprint: str, *, model_id: str, span: tuple[float, float], recipe: str) -> str:
        """The entry of ``span`` of the video whose :func:`~videopipe.fingerprint.file_fingerprint`
        is ``fingerprint``, described by ``model_id`` as ``recipe`` says."""
        blob = "\n".join([fingerprint, model_id, f"{span[0]:.3f}-{span[1]:.3f}", recipe, f"v{_VERSION}"])
        return hashlib.sha1(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> str | None:
        try:
            blob = json.loads(self._path(key).read_text(encoding="utf-8"))
            return str(blob["text"]) if blob.get("version") == _VERSION else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, text: str) -> None:
        """Best effort: an unwritable cache costs a re-description, never the run."""
        blob = json.dumps({"version": _VERSION, "text": text}).encode("utf-8")
        save_atomic(self._path(key), lambda f: f.write(blob))
