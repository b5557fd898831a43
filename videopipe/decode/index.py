"""The frame table of a video stream: every frame's presentation timestamp, in presentation
order, and where the keyframes are -- read from the container without decoding.

Two ways to build it (``FrameIndex.source`` says which one was used):

``container-index``
    The container's own sample index (MP4/MOV ``stts``/``stss``, AVI ``idx1``), which
    libavformat loads when it opens the file. Cheap: no packet is read except the first
    group of pictures and the last one, which are demuxed to check that the index's
    timestamps really are the presentation times (the index stores decode timestamps).
``demux``
    Every packet of the stream is demuxed (read, never decoded) and its pts collected.
    Used when the container has no per-frame index (Matroska/WebM cues list keyframes only)
    or the index could not be verified (e.g. B-frames with variable frame rate).

Either way every decode later checks the pts of the frame it returns against this table, so
a wrong table is detected rather than silently returning a neighbouring frame.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from videopipe.errors import DecodeError
from videopipe.fingerprint import FileMemo

__all__ = [
    "FrameIndex",
    "TruncatedVideoWarning",
    "build_index",
    "demux_packet_sizes",
    "load_index",
    "open_container",
    "packet_sizes_for",
]

_PREFIX_PACKETS = 600  # at most this many packets are demuxed to verify the container index


class TruncatedVideoWarning(UserWarning):
    """The file ends before all the frames its header/index announces (cut mid-stream)."""


@dataclass(frozen=True)
class FrameIndex:
    """pts: int64 [N] presentation timestamps (stream time-base ticks), sorted, unique.
    key_pts: int64 [K] sorted pts of keyframes; key_seek: int64 [K] the timestamp to pass to a
    backward seek to land on each keyframe (its pts: libavformat's MP4/MKV/AVI demuxers
    compare seek targets with presentation-shifted index times). Readers check where a seek
    landed and step one keyframe back when it landed too late.

    sizes: int64 [N] compressed packet size (bytes) of every frame, in *presentation* order
    (aligned with ``pts``), or None when the table could not map sizes to frames without
    reading every packet (container index of a stream with B-frames: index entries come in
    decode order and carry no pts; see :func:`packet_sizes_for`).

    access: ``"random"`` when seeking to a keyframe and decoding forward returns the frames of
    this table (verified where the container could lie, see :func:`verify_decode_order`), or
    ``"sequential"`` when only one forward decode from the start is exact (the table then
    comes from what the decoder output, ``source == "decode"``), or ``"remapped"``: the table
    came from the decoder too, and ``decoder_pts`` [N] holds the (wrong, but unique) time the
    decoder reports for each frame, which identifies it after a seek, so seeking stays exact.
    ``access_reason`` says why the container's times were not used."""

    pts: np.ndarray
    time_base: Fraction
    key_pts: np.ndarray
    key_seek: np.ndarray
    last_duration: int
    frames_lost: int
    source: str
    sizes: np.ndarray | None = None
    access: str = "random"
    access_reason: str = ""
    decoder_pts: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.pts.shape[0])

    def seconds(self, ticks: np.ndarray | int) -> np.ndarray:
        """Ticks -> seconds from the first frame."""
        return (np.asarray(ticks, dtype=np.float64) - float(self.pts[0])) * float(self.time_base)

    @property
    def duration_s(self) -> float:
        return float(self.pts[-1] - self.pts[0] + self.last_duration) * float(self.time_base)

    @property
    def start_time_s(self) -> float:
        return float(self.pts[0]) * float(self.time_base)

    def keyframe_for(self, pts: int) -> int:
        """Position in ``key_pts`` of the last keyframe at or before ``pts`` (0 if none)."""
        return max(0, int(np.searchsorted(self.key_pts, pts, side="right")) - 1)

    def is_vfr(self) -> bool:
        if self.num_frames < 3:
            return False
        d = np.diff(self.pts)
        # one tick of jitter is rounding of a constant rate into the time base, not VFR
        return bool(d.max() - d.min() > max(1, 0.02 * float(np.median(d))))


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


def _rate_ticks(stream: Any, tb: Fraction) -> int:
    """One frame's duration in time-base ticks from the stream's nominal rate (0 if unknown):
    the duration of a frame the table cannot measure (a 1-frame video)."""
    for rate in (getattr(stream, "average_rate", None), getattr(stream, "guessed_rate", None)):
        try:
            if rate and float(rate) > 0:
                return max(1, round(1 / (float(rate) * float(tb))))
        except (TypeError, ZeroDivisionError):
            continue
    return 0


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


def _all_in_sorted(values: np.ndarray, sorted_arr: np.ndarray) -> bool:
    """Every value occurs in the sorted array ``sorted_arr``."""
    if values.shape[0] == 0:
        return True
    pos = np.clip(np.searchsorted(sorted_arr, values), 0, sorted_arr.shape[0] - 1)
    return bool((sorted_arr[pos] == values).all())


def _median_duration(pts: np.ndarray, fallback: int) -> int:
    if pts.shape[0] >= 2:
        return int(np.median(np.diff(pts)))
    return max(1, fallback)


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


def _libav_errors() -> int:
    """How many errors libav* has logged in this process so far. PyAV counts them only with its
    log callback installed: installed here at the PANIC level (nothing is printed) unless the
    application chose a level itself."""
    import av.logging

    if av.logging.get_level() is None:
        av.logging.set_level(av.logging.PANIC)
    return int(av.logging.get_last_error()[0])


def _demux_table(container: Any, stream: Any) -> DemuxTable:
    """Every packet's timestamp and size, demuxed from the start of ``stream``."""
    import av

    pts: list[int] = []
    sizes: list[int] = []
    kpts: list[int] = []
    kseek: list[int] = []
    last_dur = 0
    errored = False
    lead_seek: int | None = None
    errors = _libav_errors()
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
        damaged=_libav_errors() > errors,
    )


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


def _index_table(container: Any, stream: Any, file_size: int) -> ContainerIndex | None:
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
    return bool(_all_in_sorted(np.asarray(seen, np.int64), dts + shift))


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


def build_index(container: Any, stream: Any, path: str, *, prefer_container_index: bool = True) -> FrameIndex:
    """The frame table of ``stream`` (see module docstring)."""
    if prefer_container_index:
        # a file found to lie before: its table from the decoder, without demuxing and
        # checking it again (an entry exists only for such files; a changed file misses)
        hit = _load_decoded_table(path, stream)
        if hit is not None:
            return hit
    # the same unchanged file opened again in this process: its table, unless it lost frames or
    # is not randomly accessible (those warn on every open)
    return _TABLES.cached(
        FileMemo.key(path, int(stream.index), prefer_container_index),
        lambda: _build_index(container, stream, path, prefer_container_index),
        keep=lambda index: index.frames_lost == 0 and index.access == "random",
    )


_TABLES = FileMemo(8)  # frame tables of the files opened last (a 2-hour table is ~5 MB)


def _build_index(container: Any, stream: Any, path: str, prefer_container_index: bool) -> FrameIndex:
    tb = Fraction(stream.time_base.numerator, stream.time_base.denominator)
    file_size = os.path.getsize(path)
    claimed = 0  # frames the container *indexes* (evidence of a cut file); header counts are not
    idx = _index_table(container, stream, file_size) if prefer_container_index else None
    index: FrameIndex | None = None
    shows_reordering = True  # the container's timestamps, in decode order, are not increasing
    if idx is not None:
        if idx.beyond == 0:
            table = _from_container_index(container, stream, idx.dts, idx.key)
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
                    source="container-index",
                    sizes=sizes,
                )
        claimed = int(idx.dts.shape[0])
    if index is None:
        index, shows_reordering = _from_demux(container, stream, path, tb, claimed)
    guessed = "avi" in (container.format.name or "")  # AVI stores no timestamps: the demuxer guesses
    if (guessed or not shows_reordering) and _may_hide_reordering(stream):
        # the codec reorders frames but the container's timestamps are in decode order (or
        # guessed): either the decoder restores presentation times itself, or they lie (B-frames
        # stored with pts = dts, a packed MPEG-4 bitstream)
        why = verify_decode_order(container, stream, index)
        if why is not None:
            return cached_decoded_table(container, stream, path, why)
    return index


def cached_decoded_table(
    container: Any, stream: Any, path: str, reason: str, *, packets: int = 0
) -> FrameIndex:
    """:func:`decoded_table`, kept on disk (see :mod:`videopipe.decode.table_cache`) so the
    full decode happens once per file. ``packets``: how many frames the packets announce (a
    damaged file): the ones that do not decode count as lost, with a warning."""
    from videopipe.decode.table_cache import save_table

    hit = _load_decoded_table(path, stream)
    if hit is not None:
        return hit
    index = decoded_table(container, stream, path, reason)
    lost = max(0, packets - index.num_frames)
    if lost:
        index = dataclasses.replace(index, frames_lost=lost)
        _warn_lost(path, index.num_frames, packets)
    arrays = {
        "pts": index.pts,
        "tb": np.asarray([index.time_base.numerator, index.time_base.denominator], np.int64),
        "key_pts": index.key_pts,
        "key_seek": index.key_seek,
        "last_duration": np.int64(index.last_duration),
        "access": np.str_(index.access),
        "access_reason": np.str_(index.access_reason),
        "decoder_pts": index.decoder_pts if index.decoder_pts is not None else np.zeros(0, np.int64),
        "frames_lost": np.int64(index.frames_lost),
    }
    save_table(path, int(stream.index), arrays)
    return index


def _load_decoded_table(path: str, stream: Any) -> FrameIndex | None:
    """The decoded table of ``stream`` kept on disk by :func:`cached_decoded_table`, or None
    (no entry, a stale one, or one of another shape: then it is decoded again)."""
    from videopipe.decode.table_cache import load_table

    z = load_table(path, int(stream.index))
    if z is None:
        return None
    try:
        return FrameIndex(
            pts=z["pts"],
            time_base=Fraction(int(z["tb"][0]), int(z["tb"][1])),
            key_pts=z["key_pts"],
            key_seek=z["key_seek"],
            last_duration=int(z["last_duration"]),
            frames_lost=int(z["frames_lost"]),
            source="decode",
            access=str(z["access"]),
            access_reason=str(z["access_reason"]),
            decoder_pts=z["decoder_pts"] if z["decoder_pts"].shape[0] else None,
        )
    except (KeyError, IndexError, ValueError):
        return None


def _may_hide_reordering(stream: Any) -> bool:
    """The stream's decoder reorders frames (B-frames): a table whose timestamps show no
    reordering must be checked against the decoder's output."""
    try:
        return bool(stream.codec_context.has_b_frames)
    except AttributeError:  # pragma: no cover
        return True


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
    rate = _rate_ticks(stream, tb)
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
    dur = _median_duration(pts, rate)
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
            source="decode",
            access="remapped",
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
        source="decode",
        sizes=None,
        access="sequential",
        access_reason=reason,
    )


def _from_container_index(
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
        if kpts is None or not _all_in_sorted(kpts, pts):
            return None
        kpts = np.sort(kpts)
    kseek = kpts.copy()
    if kpts.shape[0] == 0 or kpts[0] != pts[0]:
        return None
    dur = _median_duration(pts, _rate_ticks(stream, Fraction(stream.time_base)))
    return PresentationTable(pts=pts, key_pts=kpts, key_seek=kseek, last_duration=dur)


def _from_demux(
    container: Any, stream: Any, path: str, tb: Fraction, claimed: int
) -> tuple[FrameIndex, bool]:
    """The table from every packet, and whether the packets' timestamps show reordering
    (are not increasing in decode order)."""
    table = _demux_table(container, stream)
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
    dur = last if last > 0 else _median_duration(pts, _rate_ticks(stream, tb))
    lost = max(0, claimed - int(pts.shape[0])) if claimed else 0
    index = FrameIndex(
        pts=pts,
        time_base=tb,
        key_pts=kp,
        key_seek=ks,
        last_duration=dur,
        frames_lost=lost,
        source="demux",
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


def _warn_lost(path: str, decoded: int, total: int) -> None:
    warnings.warn(
        f"{path}: the file is truncated or damaged: {decoded} of {total} frames decode, "
        f"{total - decoded} lost; the decodable frames are returned",
        TruncatedVideoWarning,
        stacklevel=5,
    )


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
        _warn_lost(path, int(pts.shape[0]), total)
    sizes = None
    if index.sizes is not None:  # every kept pts is one of the demuxed packets'
        sizes = index.sizes[np.clip(np.searchsorted(index.pts, pts), 0, index.num_frames - 1)]
    return FrameIndex(
        pts=pts,
        time_base=index.time_base,
        key_pts=index.key_pts[keep],
        key_seek=index.key_seek[keep],
        last_duration=_median_duration(pts, index.last_duration),
        frames_lost=lost,
        source=index.source,
        sizes=sizes,
    )


def require_random_access(index: FrameIndex, path: str, backend: str) -> None:
    """Refuse (UnsupportedVideoError) a random-access-only backend on a file whose frames only
    a sequential decode returns exactly, or whose tail is damaged."""
    from videopipe.errors import UnsupportedVideoError

    if index.access != "random" or index.source == "decode":
        raise UnsupportedVideoError(
            f"{path}: {backend} cannot read this file frame-exactly ({index.access_reason}); use "
            "backend='pyav' (or 'auto'), which reads it by sequential decoding"
        )
    if index.frames_lost:
        raise UnsupportedVideoError(
            f"{path}: the file is cut or damaged ({index.frames_lost} frames lost) and {backend} fails "
            "on its damaged tail; use backend='pyav' (or 'auto')"
        )


def load_index(path: str, video_ordinal: int) -> FrameIndex:
    """Build the frame table with a PyAV container opened (and closed) just for that."""
    with open_container(path) as container:
        try:
            stream = container.streams.video[video_ordinal]
        except IndexError:
            raise DecodeError(f"{path}: PyAV finds no video stream #{video_ordinal}") from None
        return build_index(container, stream, path)


def demux_packet_sizes(path: str, video_ordinal: int, pts: np.ndarray) -> np.ndarray | None:
    """Compressed size (bytes) of the packet of every frame in ``pts`` (presentation order),
    by demuxing every packet of the stream (reads the whole file, decodes nothing: about 1-3 s
    for an hour of 720p). For tables built from a container index of a stream with B-frames,
    whose entries are in decode order without pts. None when a frame has no packet."""

    with open_container(path) as container:
        try:
            stream = container.streams.video[video_ordinal]
        except IndexError:
            return None
        table = _demux_table(container, stream)
    if table.errored or not table.pts:
        return None
    gp = np.asarray(table.pts, np.int64)
    order = np.argsort(gp, kind="stable")
    gp, gs = gp[order], np.asarray(table.sizes, np.int64)[order]
    if not _all_in_sorted(pts, gp):
        return None
    return gs[np.searchsorted(gp, pts)]


def packet_sizes_for(path: str, video_ordinal: int, index: FrameIndex) -> np.ndarray | None:
    """Packet sizes (bytes, presentation order) for a table that has none (``index.sizes`` is
    None: a container index of a stream with B-frames). For MP4/MOV the index entries' sizes
    (decode order) are put in presentation order with the track's composition offsets read
    from its ``ctts`` box (milliseconds) -- accepted only when the presentation times they give
    are exactly the table's; anything else demuxes every packet (:func:`demux_packet_sizes`)."""
    from videopipe.decode.mp4 import composition_offsets

    with open_container(path) as container:
        try:
            stream = container.streams.video[video_ordinal]
        except IndexError:
            return None
        is_mp4 = "mp4" in (container.format.name or "") or "mov" in (container.format.name or "")
        table = _index_table(container, stream, os.path.getsize(path)) if is_mp4 else None
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
