"""Just enough of the ISO base media file format (MP4/MOV) to read one track's composition
offsets (``ctts``: presentation time - decode time of every sample, in decode order).

PyAV exposes a stream's index entries (decode timestamps, sizes, keyframe flags) but not the
composition offsets, so with B-frames it cannot say which entry is which presentation-order
frame without demuxing every packet. Reading the ``ctts`` box from ``moov`` takes a few
milliseconds instead. Callers verify the result against the frame table (see
:func:`videopipe.decode.packet_sizes.packet_sizes_for`), so a file this parser misreads costs a demux
pass, never wrong sizes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

__all__ = ["composition_offsets"]

_MAX_MOOV_BYTES = 256 << 20


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        head = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield kind, pos + head, pos + size
        pos += size


def _read_moov(f: BinaryIO) -> bytes | None:
    """The payload of the top-level ``moov`` box (walking top-level box headers only)."""
    f.seek(0, 2)
    file_end = f.tell()
    pos = 0
    while pos + 8 <= file_end:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", head, 0)
        hlen = 8
        if size == 1:
            if len(head) < 16:
                return None
            size, hlen = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = file_end - pos
        if size < hlen:
            return None
        if kind == b"moov":
            if size > _MAX_MOOV_BYTES:
                return None
            f.seek(pos + hlen)
            return f.read(size - hlen)
        pos += size
    return None


def _track_id(buf: bytes, start: int, end: int) -> int | None:
    for kind, a, _b in _boxes(buf, start, end):
        if kind == b"tkhd":
            version = buf[a]
            off = a + 4 + (16 if version == 1 else 8)
            return struct.unpack_from(">I", buf, off)[0]
    return None


def _find(buf: bytes, start: int, end: int, path: tuple[bytes, ...]) -> tuple[int, int] | None:
    """(payload start, end) of the box at ``path`` below ``buf[start:end]``."""
    for kind, a, b in _boxes(buf, start, end):
        if kind == path[0]:
            return (a, b) if len(path) == 1 else _find(buf, a, b, path[1:])
    return None


def _ctts(buf: bytes, start: int, end: int, num_samples: int) -> np.ndarray | None:
    if end - start < 8:
        return None
    count = struct.unpack_from(">I", buf, start + 4)[0]
    if end - (start + 8) < 8 * count:
        return None
    table = np.frombuffer(buf, dtype=">u4", count=2 * count, offset=start + 8).reshape(count, 2)
    runs = table[:, 0].astype(np.int64)
    # version 1 offsets are signed; version 0 ones are unsigned by the spec but written signed
    # by some muxers: read both as signed 32-bit
    offsets = table[:, 1].astype(np.uint32).view(np.int32).astype(np.int64)
    if int(runs.sum()) != num_samples:
        return None
    return np.repeat(offsets, runs)


def composition_offsets(path: str, track_id: int, num_samples: int) -> np.ndarray | None:
    """int64 [num_samples] composition offsets (track time-scale ticks, decode order) of the
    track ``track_id``; zeros when the track has no ``ctts`` (no reordering); None when the
    file is not a plain (non-fragmented) MP4/MOV this parser understands."""
    try:
        with open(path, "rb") as f:
            moov = _read_moov(f)
    except OSError:
        return None
    if moov is None:
        return None
    for kind, a, b in _boxes(moov, 0, len(moov)):
        if kind != b"trak" or _track_id(moov, a, b) != track_id:
            continue
        stbl = _find(moov, a, b, (b"mdia", b"minf", b"stbl"))
        if stbl is None:
            return None
        ctts = _find(moov, stbl[0], stbl[1], (b"ctts",))
        if ctts is None:
            return np.zeros(num_samples, np.int64)
        return _ctts(moov, ctts[0], ctts[1], num_samples)
    return None
