"""Building the frame table of a video stream (:class:`~videopipe.decode.frame_table.FrameIndex`):
every frame's presentation timestamp, in presentation order, and where the keyframes are --
read from the container without decoding.

Two ways to build it (``FrameIndex.source`` says which one was used):

``TableSource.CONTAINER_INDEX``
    The container's own sample index (:mod:`videopipe.decode.container_index`): cheap, checked
    against the first group of pictures.
``TableSource.DEMUX``
    Every packet of the stream is demuxed, never decoded (:mod:`videopipe.decode.demux`).

A codec that reorders frames whose container timestamps show no reordering is checked against
the decoder (:mod:`videopipe.decode.decoded_table`); a file that lies gets a table from what the
decoder outputs (``TableSource.DECODE``). Either way every decode later checks the pts of the
frame it returns against this table, so a wrong table is detected rather than silently
returning a neighbouring frame.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.decode import table_cache
from videopipe.decode.container import open_stream
from videopipe.decode.container_index import from_container_index, index_table
from videopipe.decode.decoded_table import cached_decoded_table, verify_decode_order
from videopipe.decode.demux import from_demux
from videopipe.decode.frame_table import Access, FrameIndex, TableSource, require_random_access
from videopipe.fingerprint import FileMemo

__all__ = ["build_frame_table", "random_access_table", "read_frame_table"]


def build_frame_table(
    container: Any, stream: Any, path: str, *, prefer_container_index: bool = True
) -> FrameIndex:
    """The frame table of ``stream`` (see module docstring)."""
    if prefer_container_index:
        # a file found to lie before: its table from the decoder, without demuxing and
        # checking it again (an entry exists only for such files; a changed file misses)
        hit = table_cache.load_frame_table(path, int(stream.index))
        if hit is not None:
            return hit
    # the same unchanged file opened again in this process: its table, unless it lost frames or
    # is not randomly accessible (those warn on every open)
    return _TABLES.cached(
        FileMemo.key(path, int(stream.index), prefer_container_index),
        lambda: _build(container, stream, path, prefer_container_index),
        keep=lambda index: index.frames_lost == 0 and index.access is Access.RANDOM,
    )


_TABLES = FileMemo(8)  # frame tables of the files opened last (a 2-hour table is ~5 MB)


def _build(container: Any, stream: Any, path: str, prefer_container_index: bool) -> FrameIndex:
    tb = Fraction(stream.time_base.numerator, stream.time_base.denominator)
    file_size = os.path.getsize(path)
    claimed = 0  # frames the container *indexes* (evidence of a cut file); header counts are not
    idx = index_table(container, stream, file_size) if prefer_container_index else None
    index: FrameIndex | None = None
    shows_reordering = True  # the container's timestamps, in decode order, are not increasing
    if idx is not None:
        if idx.beyond == 0:
            table = from_container_index(container, stream, idx.dts, idx.key)
            if table is not None:
                # without reordering (pts == dts + shift with shift 0) decode order is
                # presentation order; with it, which size belongs to which pts is unknown here
                shows_reordering = not bool(np.array_equal(table.pts, idx.dts))
                sizes = None if shows_reordering else idx.sizes
                index = FrameIndex(
                    pts=table.pts,
                    time_base=tb,
                    key_pts=table.key_pts,
                    key_seek=table.key_seek,
                    last_duration=table.last_duration,
                    frames_lost=0,
                    source=TableSource.CONTAINER_INDEX,
                    sizes=sizes,
                )
        claimed = int(idx.dts.shape[0])
    if index is None:
        index, shows_reordering = from_demux(container, stream, path, tb, claimed)
    guessed = "avi" in (container.format.name or "")  # AVI stores no timestamps: the demuxer guesses
    if (guessed or not shows_reordering) and _may_hide_reordering(stream):
        # the codec reorders frames but the container's timestamps are in decode order (or
        # guessed): either the decoder restores presentation times itself, or they lie (B-frames
        # stored with pts = dts, a packed MPEG-4 bitstream)
        why = verify_decode_order(container, stream, index)
        if why is not None:
            return cached_decoded_table(container, stream, path, why)
    return index


def _may_hide_reordering(stream: Any) -> bool:
    """The stream's decoder reorders frames (B-frames): a table whose timestamps show no
    reordering must be checked against the decoder's output."""
    try:
        return bool(stream.codec_context.has_b_frames)
    except AttributeError:  # pragma: no cover
        return True


def read_frame_table(path: str, video_ordinal: int) -> FrameIndex:
    """Build the frame table with a PyAV container opened (and closed) just for that."""
    with open_stream(path, video_ordinal) as (container, stream):
        return build_frame_table(container, stream, path)


def random_access_table(path: str, video_ordinal: int, backend: str) -> FrameIndex:
    """The frame table for a backend that only seeks (``backend`` names it in the error):
    refused (UnsupportedVideoError) where random access is not exact or the tail is damaged."""
    index = read_frame_table(path, video_ordinal)
    require_random_access(index, path, backend)
    return index
