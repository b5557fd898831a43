"""Generated test media kept in the test-video cache: made once per set of parameters, with the
JSON description of what it holds (a lecture's topics, a speech script) stored beside it."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from videopipe.testing.videos import video_cache_dir

__all__ = ["cached_media"]


def cached_media(
    prefix: str,
    params: Mapping[str, Any],
    *,
    ext: str,
    meta_ext: str,
    make: Callable[[Path, Path], dict[str, Any]],
    cache_dir: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """``(path, description)`` of the file ``PREFIX-KEY.EXT`` (KEY: a hash of ``params``) and
    its description ``PREFIX-KEY.META_EXT``. When either is missing, ``make(tmp, workdir)``
    writes the file at ``tmp`` (scratch files go in ``workdir``) and returns the description;
    both then land atomically, under a file lock (parallel test workers make it once)."""
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    out_dir = cache_dir or video_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{prefix}-{key}.{ext}"
    meta = path.with_suffix(meta_ext)
    with FileLock(str(path) + ".lock"):
        if path.is_file() and path.stat().st_size > 0 and meta.is_file():
            return path, json.loads(meta.read_text())
        with tempfile.TemporaryDirectory(dir=out_dir) as d:
            tmp = Path(d) / path.name
            described = make(tmp, Path(d))
            meta.write_text(json.dumps(described))
            tmp.replace(path)
        return path, described
