"""Compressed packet sizes of every frame, for a frame table that has none (a container index
of a stream with B-frames lists sizes in decode order, without pts)."""

from __future__ import annotations

import os

import numpy as np

from videopipe.decode.container import all_in_sorted, open_stream
from videopipe.decode.container_index import index_table
from videopipe.decode.demux import demux_table
from videopipe.decode.frame_table import FrameIndex

__all__ = ["demux_packet_sizes", "packet_sizes_for"]


def demux_packet_sizes(path: str, video_ordinal: int, pts: np.ndarray) -> np.ndarray | None:
    """Compressed size (bytes) of the packet of every frame in ``pts`` (presentation order),
    by demuxing every packet of the stream (reads the whole file, decodes nothing: about 1-3 s
    for an hour of 720p). For tables built from a container index of a stream with B-frames,
    whose entries are in decode order without pts. None when a frame has no packet."""
    with open_stream(path, video_ordinal, required=False) as (container, stream):
        if stream is None:
            return None
        table = demux_table(container, stream)
    if table.errored or not table.pts:
        return None
    gp = np.asarray(table.pts, np.int64)
    order = np.argsort(gp, kind="stable")
    gp, gs = gp[order], np.asarray(table.sizes, np.int64)[order]
    if not all_in_sorted(pts, gp):
        return None
    return gs[np.searchsorted(gp, pts)]


def packet_sizes_for(path: str, video_ordinal: int, index: FrameIndex) -> np.ndarray | None:
    """Packet sizes (bytes, presentation order) for a table that has none (``index.sizes`` is
    None: a container index of a stream with B-frames). For MP4/MOV the index entries' sizes
    (decode order) are put in presentation order with the track's composition offsets read
    from its ``ctts`` box (milliseconds) -- accepted only when the presentation times they give
    are exactly the table's; anything else demuxes every packet (:func:`demux_packet_sizes`)."""
    from videopipe.decode.mp4 import composition_offsets

    with open_stream(path, video_ordinal, required=False) as (container, stream):
        if stream is None:
            return None
        is_mp4 = "mp4" in (container.format.name or "") or "mov" in (container.format.name or "")
        table = index_table(container, stream, os.path.getsize(path)) if is_mp4 else None
        track_id = int(stream.id or 0)
    if table is not None and table.dts.shape[0] == index.num_frames:
        size = table.sizes
        offsets = composition_offsets(path, track_id, index.num_frames)
        if offsets is not None:
            pts = table.dts + offsets
            order = np.argsort(pts, kind="stable")
            shifted = pts[order] - pts[order[0]] + index.pts[0]
            if np.array_equal(shifted, index.pts):
                return size[order]
    return demux_packet_sizes(path, video_ordinal, index.pts)
