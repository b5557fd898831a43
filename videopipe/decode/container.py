"""PyAV containers: open one under the safe-open policy, pick its video stream, decode
tolerantly, count libav's errors -- what every part of the frame table and the pyav backend
does with a container."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.errors import DecodeError

__all__ = [
    "all_in_sorted",
    "decode_tolerant",
    "libav_errors",
    "open_container",
    "open_stream",
    "rate_ticks",
    "video_stream",
]


def open_container(path: str) -> Any:
    """PyAV container opened for reading under the policy of :mod:`videopipe.decode.safe_open`,
    with errors turned into DecodeError."""
    import av

    from videopipe.decode.safe_open import open_av

    try:
        return open_av(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise DecodeError(
            f"{path}: cannot be opened as a video ({e}); check that it is a complete video file"
        ) from None


def video_stream(container: Any, path: str, video_ordinal: int, *, required: bool = True) -> Any:
    """Video stream #``video_ordinal`` of an open container; when there is none, DecodeError
    (or None with ``required=False``)."""
    try:
        return container.streams.video[video_ordinal]
    except IndexError:
        if not required:
            return None
        raise DecodeError(f"{path}: PyAV finds no video stream #{video_ordinal}") from None


@contextmanager
def open_stream(path: str, video_ordinal: int, *, required: bool = True) -> Iterator[tuple[Any, Any]]:
    """``(container, stream)``: the container opened for reading and its video stream
    #``video_ordinal`` (see :func:`video_stream`); the container is closed on exit."""
    with open_container(path) as container:
        yield container, video_stream(container, path, video_ordinal, required=required)


def decode_tolerant(container: Any, stream: Any) -> Iterator[Any]:
    """Decode ``stream`` from the container's current position like the ffmpeg command line
    does: a packet the decoder rejects (damaged data, a cut file) is skipped, not fatal, and
    the decoder is drained at the end. A demuxing error ends the stream."""
    import av

    try:
        for pkt in container.demux(stream):
            try:
                frames = pkt.decode()
            except av.FFmpegError:
                continue
            yield from frames
    except (av.FFmpegError, OSError):
        try:
            yield from stream.codec_context.decode(None)
        except av.FFmpegError:
            return


def rate_ticks(stream: Any, tb: Fraction) -> int:
    """One frame's duration in time-base ticks from the stream's nominal rate (0 if unknown):
    the duration of a frame the table cannot measure (a 1-frame video)."""
    for rate in (getattr(stream, "average_rate", None), getattr(stream, "guessed_rate", None)):
        try:
            if rate and float(rate) > 0:
                return max(1, round(1 / (float(rate) * float(tb))))
        except (TypeError, ZeroDivisionError):
            continue
    return 0


def all_in_sorted(values: np.ndarray, sorted_arr: np.ndarray) -> bool:
    """Every value occurs in the sorted array ``sorted_arr``."""
    if values.shape[0] == 0:
        return True
    pos = np.clip(np.searchsorted(sorted_arr, values), 0, sorted_arr.shape[0] - 1)
    return bool((sorted_arr[pos] == values).all())


def libav_errors() -> int:
    """How many errors libav* has logged in this process so far. PyAV counts them only with its
    log callback installed: installed here at the PANIC level (nothing is printed) unless the
    application chose a level itself."""
    import av.logging

    if av.logging.get_level() is None:
        av.logging.set_level(av.logging.PANIC)
    return int(av.logging.get_last_error()[0])
