"""A frame table from every packet of the stream, demuxed (read, never decoded): used when
the container has no per-frame index (Matroska/WebM cues list keyframes only) or the index
could not be verified (e.g. B-frames with variable frame rate). A file cut mid-stream keeps
the frames that decode, with a warning naming how many were lost."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.decode.container import decode_tolerant, libav_errors, rate_ticks
from videopipe.decode.decoded_table import cached_decoded_table
from videopipe.decode.frame_table import FrameIndex, TableSource, median_duration, warn_lost
from videopipe.errors import DecodeError

__all__ = ["DemuxTable", "demux_table", "from_demux"]


@dataclass(frozen=True)
class DemuxTable:
    """What demuxing every packet of a stream gives (decode order, nothing decoded).

    pts:      pts of every packet (dts where a packet has no pts)
    sizes:    size in bytes of every packet, aligned with ``pts``
    key_pts:  pts of the keyframe packets
    key_seek: the timestamp to seek to for each keyframe packet
    errored:  demuxing stopped on an error (a cut or damaged file)
    last_duration: duration of the last packet (0 if unknown)
    lead_seek: where to seek to decode the first presented frame when an edit list hides the
              keyframe it depends on (the hidden keyframe's timestamp), else None
    damaged:  the demuxer reported errors while reading (it skipped damaged data)

    Packets an edit list hides (``is_discard``: decoded, never presented) are left out."""

    pts: list[int]
    sizes: list[int]
    key_pts: list[int]
    key_seek: list[int]
    errored: bool
    last_duration: int
    lead_seek: int | None = None
    damaged: bool = False


def demux_table(container: Any, stream: Any) -> DemuxTable:
    """Every packet's timestamp and size, demuxed from the start of ``stream``."""
    import av

    pts: list[int] = []
    sizes: list[int] = []
    kpts: list[int] = []
    kseek: list[int] = []
    last_dur = 0
    errored = False
    lead_seek: int | None = None
    errors = libav_errors()
    try:
        container.seek(0, stream=stream, backward=True)
    except av.FFmpegError:
        pass
    try:
        for pkt in container.demux(stream):
            if pkt.size == 0:
                continue
            t = pkt.pts if pkt.pts is not None else pkt.dts
            if t is None:
                continue
            if pkt.is_discard:
                if pkt.is_keyframe and not pts:
                    lead_seek = int(t)
                continue
            pts.append(int(t))
            sizes.append(int(pkt.size))
            last_dur = int(pkt.duration or 0)
            if pkt.is_keyframe:
                kpts.append(int(t))
                kseek.append(int(t))
    except (av.FFmpegError, OSError):
        errored = True
    return DemuxTable(
        pts=pts,
        sizes=sizes,
        key_pts=kpts,
        key_seek=kseek,
        errored=errored,
        last_duration=last_dur,
        lead_seek=lead_seek,
        damaged=libav_errors() > errors,
    )


def from_demux(container: Any, stream: Any, path: str, tb: Fraction, claimed: int) -> tuple[FrameIndex, bool]:
    """The table from every packet, and whether the packets' timestamps show reordering
    (are not increasing in decode order)."""
    table = demux_table(container, stream)
    if not table.pts:
        raise DecodeError(
            f"{path}: the video stream has 0 readable frames; the file is empty, truncated or "
            "corrupt -- re-download or re-encode it"
        )
    in_order = np.asarray(table.pts, np.int64)
    order = np.argsort(in_order, kind="stable")
    pts, first = np.unique(in_order[order], return_index=True)
    sizes = np.asarray(table.sizes, np.int64)[order][first]  # presentation order, like pts
    kp = np.asarray(table.key_pts, np.int64)
    ks = np.asarray(table.key_seek, np.int64)
    o = np.argsort(kp, kind="stable")
    kp, ks = kp[o], ks[o]
    if kp.shape[0] == 0 or kp[0] > pts[0]:
        # frames before the first keyframe: let the decoder start from the beginning
        lead = min(pts[0], ks[0] if ks.shape[0] else pts[0])
        if table.lead_seek is not None:
            lead = min(lead, table.lead_seek)
        kp = np.concatenate([[pts[0]], kp])
        ks = np.concatenate([[lead], ks])
    last = table.last_duration
    dur = last if last > 0 else median_duration(pts, rate_ticks(stream, tb))
    lost = max(0, claimed - int(pts.shape[0])) if claimed else 0
    index = FrameIndex(
        pts=pts,
        time_base=tb,
        key_pts=kp,
        key_seek=ks,
        last_duration=dur,
        frames_lost=lost,
        source=TableSource.DEMUX,
        sizes=sizes,
    )
    if table.damaged and not table.errored and not lost:
        # the demuxer skipped damaged data (not a cut end): which packets still decode only
        # decoding tells
        why = "the file is damaged (the demuxer skipped damaged data), so its frames are counted by decoding"
        index = cached_decoded_table(container, stream, path, why, packets=int(pts.shape[0]))
        return index, True
    if table.errored or lost:
        index = _trim_undecodable_tail(container, stream, path, index, claimed)
    return index, not bool((np.diff(in_order) > 0).all())


def _trim_undecodable_tail(
    container: Any, stream: Any, path: str, index: FrameIndex, claimed: int
) -> FrameIndex:
    """For a truncated file: decode from the last keyframe to the end and keep only frames that
    actually decode. Warns with the number of frames lost."""
    import av

    decoded: set[int] = set()
    k = index.key_pts.shape[0] - 1
    while k >= 0 and not decoded:
        decoded.clear()
        try:
            container.seek(int(index.key_seek[k]), stream=stream, backward=True)
        except (av.FFmpegError, OSError):
            pass
        for f in decode_tolerant(container, stream):
            t = f.pts if f.pts is not None else f.dts
            if t is not None:
                decoded.add(int(t))
        stream.codec_context.flush_buffers()
        if not decoded:
            k -= 1
    if k < 0:
        raise DecodeError(
            f"{path}: the video stream has 0 decodable frames (truncated or corrupt); "
            "re-download or re-encode the file"
        )
    head = index.pts[index.pts < index.key_pts[k]]
    tail = np.asarray(sorted(t for t in decoded if t >= index.key_pts[k]), np.int64)
    pts = np.concatenate([head, tail])
    keep = index.key_pts <= pts[-1]
    total = max(claimed, index.num_frames)
    lost = max(0, total - int(pts.shape[0]))
    if lost:
        warn_lost(path, int(pts.shape[0]), total)
    sizes = None
    if index.sizes is not None:  # every kept pts is one of the demuxed packets'
        sizes = index.sizes[np.clip(np.searchsorted(index.pts, pts), 0, index.num_frames - 1)]
    return FrameIndex(
        pts=pts,
        time_base=index.time_base,
        key_pts=index.key_pts[keep],
        key_seek=index.key_seek[keep],
        last_duration=median_duration(pts, index.last_duration),
        frames_lost=lost,
        source=index.source,
        sizes=sizes,
    )
