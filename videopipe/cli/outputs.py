"""The files and folders the CLI writes (``--srt``, ``--plot``, ``--out``): checked before the
work starts, written without ever replacing something that is not a regular file (a device,
a FIFO), and every failure one :class:`~videopipe.errors.OutputError` naming the option and
the path."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videopipe.errors import OutputError

__all__ = ["check_output_dir", "check_output_file", "writing", "write_output"]


@contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """An OSError inside the block (no space, permission, not a directory) becomes one
    OutputError naming ``option`` and ``path``."""
    try:
        yield
    except OSError as e:
        raise OutputError(f"{option} {path}: cannot write there ({e.strerror or e})") from None


def check_output_file(path: Path, option: str) -> Path:
    """``path`` can be written as a file: not a directory, and its nearest existing folder is a
    writable folder. Called before the work, so a bad ``--srt``/``--plot`` fails in a second."""
    if path.is_dir():
        raise OutputError(f"{option} {path} is a directory; pass a file path")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise OutputError(f"{option} {path} is not writable")
        return path
    _check_parent(path, option)
    return path


def check_output_dir(path: Path, option: str) -> Path:
    """``path`` is, or can be made, a writable folder."""
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"{option} {path} exists and is not a directory; pass a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"{option} {path} is not writable")
        return path
    _check_parent(path, option)
    return path


def _check_parent(path: Path, option: str) -> None:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot create it in {parent} (permission denied)")


def write_output(path: Path, data: str | bytes, option: str) -> None:
    """Write ``data`` to ``path``: a regular file (or a new one) atomically, through a temp file
    and a rename; an existing device or FIFO (``/dev/null``, ``/dev/stdout``) in place, never
    replaced by a file."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_output_file(path, option)
    with writing(path, option):
        if path.exists() and not path.is_file():
            with open(path, "wb") as f:
                f.write(raw)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
