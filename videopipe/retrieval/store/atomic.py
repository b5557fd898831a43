"""Atomic file writes: every index file is written under a temporary name next to its place,
fsynced, and renamed into place, so a crash leaves either the old file or the new one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from videopipe.errors import IndexStoreError
from videopipe.retrieval.store.damage import IndexWriteError, describe

TMP_MARK = ".tmp-"  # in the name of every temporary file (garbage collection removes them)


def fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path, *, also: tuple[type[Exception], ...] = ()) -> Iterator[Path]:
    """A temporary path next to ``path`` for the body to write; on success the file is fsynced
    and renamed over ``path``; on failure it is removed. An OSError (or one of ``also``: what a
    library raises for a failed write) becomes an :class:`IndexWriteError` naming ``path``; the
    previous version of the file is intact."""
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except (OSError, *also) as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, IndexStoreError):
            raise
        raise IndexWriteError(
            f"cannot write {path} ({describe(e)}); the index keeps its last commit: fix the cause "
            "and run `videopipe index` again",
        ) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """:func:`atomic_path` with the temporary file opened for binary writing."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        yield f


def write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))
