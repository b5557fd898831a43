"""A frame table from what the decoder outputs, for files whose timestamps lie (B-frames
stored with pts = dts, packed MPEG-4 bitstreams, damaged files): :func:`verify_decode_order`
finds the lie, :func:`decoded_table` takes the table from one full decode, and
:func:`cached_decoded_table` keeps it on disk (:mod:`videopipe.decode.table_cache`) so the full
decode happens once per file."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.decode import table_cache
from videopipe.decode.container import decode_tolerant, rate_ticks
from videopipe.decode.frame_table import Access, FrameIndex, TableSource, median_duration, warn_lost
from videopipe.errors import DecodeError

__all__ = ["cached_decoded_table", "decoded_table", "verify_decode_order"]


_VERIFY_FRAMES = 120  # frames decoded from the start to check the decoder agrees with the table


def verify_decode_order(container: Any, stream: Any, index: FrameIndex) -> str | None:
    """Decode the first frames (at least one whole group of pictures, up to ``_VERIFY_FRAMES``)
    and compare their timestamps, in output order, with the table. None when they agree, else
    why random access to this file cannot be trusted."""
    import av

    got: list[int | None] = []
    try:
        container.seek(int(index.key_seek[0]), stream=stream, backward=True)
        for f in decode_tolerant(container, stream):
            got.append(f.pts)
            if len(got) >= min(_VERIFY_FRAMES, index.num_frames):
                break
    except av.FFmpegError:
        return "the decoder fails where the container index says frames are"
    finally:
        stream.codec_context.flush_buffers()
    want = index.pts[: len(got)].tolist()
    if got == want and (len(got) == min(_VERIFY_FRAMES, index.num_frames)):
        return None
    if any(t is None for t in got) or any(b <= a for a, b in zip(got, got[1:])):
        return (
            "the decoder's frame order does not follow the container's timestamps (B-frames stored "
            "with pts = dts, or a packed bitstream)"
        )
    return "the decoded frames are not the frames the container lists"


def decoded_table(container: Any, stream: Any, path: str, reason: str) -> FrameIndex:
    """The frame table of what a sequential decode outputs (one full decode, nothing converted):
    frame ``i`` is the ``i``-th frame out of the decoder. Times are the decoder's own when they
    increase; when they do not (timestamps that lie), the same set of times in increasing
    order, or a constant rate as a last resort. Access is sequential."""
    import av

    tb = Fraction(stream.time_base.numerator, stream.time_base.denominator)
    out: list[int | None] = []
    keys: list[int] = []
    try:
        container.seek(0, stream=stream, backward=True)
    except av.FFmpegError:
        pass
    stream.codec_context.flush_buffers()
    for f in decode_tolerant(container, stream):
        if f.key_frame:
            keys.append(len(out))
        out.append(f.pts if f.pts is not None else f.dts)
    stream.codec_context.flush_buffers()
    if not out:
        raise DecodeError(
            f"{path}: the video stream has 0 decodable frames; the file is empty, truncated or corrupt "
            "-- re-download or re-encode it"
        )
    rate = rate_ticks(stream, tb)
    known = [t for t in out if t is not None]
    if len(known) == len(out) and all(b > a for a, b in zip(known, known[1:])):
        pts = np.asarray(known, np.int64)
    elif len(known) == len(out) and len(set(known)) == len(known):
        pts = np.sort(np.asarray(known, np.int64))
    else:
        step = rate or 1
        start = min(known) if known else 0
        pts = start + step * np.arange(len(out), dtype=np.int64)
    if not keys or keys[0] != 0:
        keys = [0, *keys]
    ks = np.asarray(keys, np.int64)
    kpts = pts[ks]
    dur = median_duration(pts, rate)
    reported = np.asarray(known, np.int64) if len(known) == len(out) else None
    if (
        reported is not None
        and np.unique(reported).shape[0] == len(out)
        and not np.array_equal(reported, pts)
    ):
        # every frame is told apart by the time the decoder gives it: seek by the keyframes'
        # reported times (their packets' times) and recognise frames by theirs
        return FrameIndex(
            pts=pts,
            time_base=tb,
            key_pts=kpts,
            key_seek=reported[ks],
            last_duration=dur,
            frames_lost=0,
            source=TableSource.DECODE,
            access=Access.REMAPPED,
            access_reason=reason,
            decoder_pts=reported,
        )
    return FrameIndex(
        pts=pts,
        time_base=tb,
        key_pts=kpts,
        key_seek=kpts.copy(),
        last_duration=dur,
        frames_lost=0,
        source=TableSource.DECODE,
        sizes=None,
        access=Access.SEQUENTIAL,
        access_reason=reason,
    )


def cached_decoded_table(
    container: Any, stream: Any, path: str, reason: str, *, packets: int = 0
) -> FrameIndex:
    """:func:`decoded_table`, kept on disk (see :mod:`videopipe.decode.table_cache`) so the
    full decode happens once per file. ``packets``: how many frames the packets announce (a
    damaged file): the ones that do not decode count as lost, with a warning."""
    hit = table_cache.load_frame_table(path, int(stream.index))
    if hit is not None:
        return hit
    index = decoded_table(container, stream, path, reason)
    lost = max(0, packets - index.num_frames)
    if lost:
        index = dataclasses.replace(index, frames_lost=lost)
        warn_lost(path, index.num_frames, packets)
    table_cache.save_frame_table(path, int(stream.index), index)
    return index
