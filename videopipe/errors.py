"""Error hierarchy. Every error a user can trigger is a :class:`VideoPipeError`.

Messages name the offending value (file, option), the problem, and what to do about it.
The CLI prints ``str(error)`` on one line and exits with code 2.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager


class VideoPipeError(Exception):
    """Base class of every error videopipe raises on purpose."""


class ConfigError(VideoPipeError, ValueError):
    """A bad option or configuration value (unknown name, out-of-range number, ...)."""


class UnknownPluginError(ConfigError, KeyError):
    """A registry lookup with a name that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(VideoPipeError, ImportError):
    """An optional package or system binary (ffmpeg, decord, faiss-gpu, ray, ...) is missing."""


class DecodeError(VideoPipeError):
    """A file could not be decoded (not a video, corrupt, zero decodable frames, ...)."""


class UnsupportedVideoError(DecodeError):
    """The file is a valid container, but nothing in it can be decoded as video
    (audio-only file, unsupported codec, no video stream)."""


class VideoNotFoundError(VideoPipeError, FileNotFoundError):
    """The path does not exist or is not a regular file."""


class OutOfRangeError(VideoPipeError, IndexError):
    """Frame indices or times outside the video."""


class DeviceError(VideoPipeError):
    """A device was asked for that is not available (e.g. ``device='cuda'`` without a GPU)."""


class ModelError(VideoPipeError):
    """A model cannot be loaded or used (unknown family, weights not found, ...)."""


class IndexStoreError(VideoPipeError):
    """A retrieval index is missing, corrupt, or built with another embedder."""


class OutputError(VideoPipeError):
    """An output (a file or folder named by an option, standard output) that cannot be written:
    a directory where a file belongs, a missing or read-only folder, a full disk."""


class InputError(VideoPipeError, ValueError):
    """A bad user input that is not a file: empty question, bad manifest row, ..."""


def is_library_error(e: BaseException) -> bool:
    """An error raised by a media library (libav* through PyAV, torchcodec, decord; I/O) rather
    than by a bug of ours: a boundary turns these into a VideoPipeError naming the file."""
    mod = (type(e).__module__ or "").split(".")[0]
    return mod in ("av", "torchcodec", "decord") or isinstance(e, (OSError, RuntimeError))


@contextmanager
def library_errors_as_decode_errors(what: str, fix: str) -> Iterator[None]:
    """Turn a media library's error (see :func:`is_library_error`) raised inside the block into
    one :class:`DecodeError`: ``"{what} ({type}: {message}); {fix}"``. Our own errors pass
    through, and so do bugs (they are not disguised as bad files)."""
    try:
        yield
    except VideoPipeError:
        raise
    except Exception as e:
        if not is_library_error(e):
            raise
        raise DecodeError(f"{what} ({type(e).__name__}: {one_line(e)}); {fix}") from e


def one_line(e: BaseException, limit: int = 300) -> str:
    """``str(e)`` on one line (newlines and runs of spaces collapsed), at most ``limit`` chars."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_problem(path: str | os.PathLike[str]) -> str:
    """Why ``path`` is not a readable regular file, as the end of a sentence that names it:
    "does not exist", "is a directory, not a file", "is a FIFO (named pipe), not a regular
    file"..."""
    p = os.fspath(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"
