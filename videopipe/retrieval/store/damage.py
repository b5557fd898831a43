"""What can be wrong with an index directory, and the errors that say so.

A :class:`Problem` is what is wrong with one file (raised by the parsers, which do not know
the directory); the store turns it into an :class:`IndexDamageError` naming the file and the
command that repairs it."""

from __future__ import annotations

from pathlib import Path

from videopipe.errors import IndexStoreError


class IndexDamageError(IndexStoreError):
    """A file of an index directory is missing or cannot be read (truncated, not JSON, wrong
    shape, ...). ``videopipe index`` run again on the same folder repairs it (see
    :meth:`IndexStore.writer`). ``file`` is relative to ``directory``."""

    def __init__(self, directory: Path, file: str, problem: str, fix: str) -> None:
        self.directory = directory
        self.file = file
        self.problem = problem
        super().__init__(f"index {directory} is damaged: {file} {problem}; {fix}")


class IndexWriteError(IndexStoreError, OSError):
    """A file of an index could not be written (disk full, no permission, ...)."""


class Problem(Exception):
    """What is wrong with one file, said after its name ("is not valid JSON, ...")."""


class Vanished(Exception):
    """A file a snapshot needs is missing: a race with a writer's garbage collection, or damage."""

    def __init__(self, file: str, what: str) -> None:
        super().__init__(file)
        self.file, self.what = file, what


def describe(e: BaseException) -> str:
    """``Type: message`` on one line (what a wrapped exception said)."""
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def read_bytes(path: Path) -> bytes:
    """The bytes of one index file. FileNotFoundError when it does not exist (the caller
    decides whether that is damage or a race); :class:`Problem` when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise Problem("is a directory, not a file") from None
    except OSError as e:
        raise Problem(f"cannot be read ({describe(e)})") from None
