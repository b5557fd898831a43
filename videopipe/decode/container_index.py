"""A frame table from the container's own sample index (MP4/MOV ``stts``/``stss``, AVI
``idx1``), which libavformat loads when it opens the file. Cheap: no packet is read except the
first group of pictures and the last one, which are demuxed to check that the index's
timestamps really are the presentation times (the index stores decode timestamps)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.decode.container import all_in_sorted, rate_ticks
from videopipe.decode.frame_table import median_duration

__all__ = ["ContainerIndex", "PresentationTable", "from_container_index", "index_table"]

_PREFIX_PACKETS = 600  # at most this many packets are demuxed to verify the container index


@dataclass(frozen=True)
class ContainerIndex:
    """A container's own per-sample index (MP4 ``stbl``, MKV cues...), in decode order.

    dts:    decode timestamp of every indexed sample
    key:    keyframe mask, aligned with ``dts``
    beyond: samples whose bytes lie past the end of the file (a cut file)
    sizes:  size in bytes of every sample"""

    dts: np.ndarray
    key: np.ndarray
    beyond: int
    sizes: np.ndarray


@dataclass(frozen=True)
class PresentationTable:
    """Presentation times derived from a container index (stream time-base ticks).

    pts: every frame's presentation time, sorted; key_pts: the keyframes'; key_seek: what to
    seek to for each keyframe; last_duration: the last frame's duration"""

    pts: np.ndarray
    key_pts: np.ndarray
    key_seek: np.ndarray
    last_duration: int


def index_table(container: Any, stream: Any, file_size: int) -> ContainerIndex | None:
    """The container index of ``stream``, or None when the container has no complete
    per-frame index."""
    try:
        entries = stream.index_entries
        n = len(entries)
    except (AttributeError, TypeError):
        return None
    if n == 0 or n != int(stream.frames or 0):
        return None
    # one pass over the entry objects, then a column at a time (0.11 s for the 180,000 entries
    # of a 2-hour file; writing numpy elements one by one took 0.13 s)
    listed = list(entries)
    if any(e.is_discard for e in listed):
        return None  # an edit list hides some samples: what is presented comes from the packets
    ts = np.fromiter((e.timestamp for e in listed), np.int64, n)
    key = np.fromiter((e.is_keyframe for e in listed), bool, n)
    size = np.fromiter((e.size for e in listed), np.int64, n)
    ends = np.fromiter((e.pos for e in listed), np.int64, n) + size
    beyond = int((ends > file_size).sum())
    if n > 1 and not bool((np.diff(ts) > 0).all()):
        return None
    return ContainerIndex(dts=ts, key=key, beyond=beyond, sizes=size)


def _verify_prefix(container: Any, stream: Any, dts: np.ndarray, shift: int) -> bool:
    """Demux the first group(s) of pictures and check pts == dts + shift as sets."""
    import av

    seen: list[int] = []
    nkey = 0
    try:
        container.seek(0, stream=stream, backward=True)
        for pkt in container.demux(stream):
            if pkt.size == 0 or pkt.pts is None:
                continue
            if pkt.is_keyframe:
                nkey += 1
                if nkey == 2:
                    break
            seen.append(int(pkt.pts))
            if len(seen) >= _PREFIX_PACKETS:
                break
    except (av.FFmpegError, OSError):
        return False
    if not seen:
        return False
    expect = dts[: len(seen)] + shift
    if nkey == 2:  # a whole closed group of pictures: the sets must match exactly
        return bool(np.array_equal(np.sort(np.asarray(seen, np.int64)), expect))
    return bool(all_in_sorted(np.asarray(seen, np.int64), dts + shift))


def _keyframe_pts_by_seek(container: Any, stream: Any, kdts: np.ndarray, shift: int) -> np.ndarray | None:
    """pts of the keyframe packets whose dts are ``kdts``: seek to each, read one packet."""
    import av

    out = np.empty_like(kdts)
    try:
        for j, d in enumerate(kdts.tolist()):
            container.seek(int(d + shift), stream=stream, backward=True, any_frame=False)
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                if pkt.dts != d or pkt.pts is None or not pkt.is_keyframe:
                    return None
                out[j] = pkt.pts
                break
            else:
                return None
    except (av.FFmpegError, OSError):
        return None
    return out


def _first_packet_shift(container: Any, stream: Any, first_dts: int) -> int | None:
    import av

    try:
        container.seek(0, stream=stream, backward=True)
        pts: list[int] = []
        for pkt in container.demux(stream):
            if pkt.size == 0 or pkt.pts is None:
                continue
            pts.append(int(pkt.pts))
            if len(pts) >= 64:
                break
    except (av.FFmpegError, OSError):
        return None
    if not pts:
        return None
    return min(pts) - first_dts


def from_container_index(
    container: Any, stream: Any, dts: np.ndarray, key: np.ndarray
) -> PresentationTable | None:
    shift = _first_packet_shift(container, stream, int(dts[0]))
    if shift is None:
        return None
    if shift != 0:
        # decode timestamps shifted by the reorder delay equal presentation times only for a
        # constant frame rate (uniform dts); anything else is demuxed.
        d = np.diff(dts)
        if d.shape[0] and not bool((d == d[0]).all()):
            return None
    if not _verify_prefix(container, stream, dts, shift):
        return None
    pts = dts + shift
    if shift == 0:
        kpts = pts[key]
    else:
        # with reordering a keyframe's pts is not always its dts + the delay (open GOPs put
        # leading pictures before it): read each keyframe packet's own pts (one seek each)
        kpts = _keyframe_pts_by_seek(container, stream, dts[key], shift)
        if kpts is None or not all_in_sorted(kpts, pts):
            return None
        kpts = np.sort(kpts)
    kseek = kpts.copy()
    if kpts.shape[0] == 0 or kpts[0] != pts[0]:
        return None
    dur = median_duration(pts, rate_ticks(stream, Fraction(stream.time_base)))
    return PresentationTable(pts=pts, key_pts=kpts, key_seek=kseek, last_duration=dur)
