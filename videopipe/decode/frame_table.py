"""The frame table of a video stream (:class:`FrameIndex`): every frame's presentation
timestamp, in presentation order, and where the keyframes are -- read from the container
without decoding (see :mod:`videopipe.decode.build_table` for how it is built).

Two enums name what used to be compared as text; both are ``str`` enums, so the values stored
on disk and shown in ``VideoInfo.access`` (``"random"``, ``"container-index"``...) are unchanged
and a plain string still compares equal to its member.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from videopipe.enums import ValueEnum

__all__ = [
    "Access",
    "FrameIndex",
    "FrameTableCorrectedWarning",
    "IndexMismatch",
    "SequentialAccessWarning",
    "TableSource",
    "TruncatedVideoWarning",
    "median_duration",
    "require_random_access",
    "warn_lost",
    "warn_sequential",
]


class Access(ValueEnum):
    """How frames of a table can be reached (see :class:`FrameIndex`)."""

    RANDOM = "random"
    SEQUENTIAL = "sequential"
    REMAPPED = "remapped"


class TableSource(ValueEnum):
    """Where a frame table came from: the container's own sample index, every packet
    demuxed, or what a full decode output."""

    CONTAINER_INDEX = "container-index"
    DEMUX = "demux"
    DECODE = "decode"


class IndexMismatch(Exception):
    """A decoded frame's pts is not where the frame table says (table built from a wrong index)."""


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
    decode order and carry no pts; see :func:`videopipe.decode.packet_sizes.packet_sizes_for`).

    access: :attr:`Access.RANDOM` when seeking to a keyframe and decoding forward returns the
    frames of this table (verified where the container could lie, see
    :func:`videopipe.decode.decoded_table.verify_decode_order`), or :attr:`Access.SEQUENTIAL`
    when only one forward decode from the start is exact (the table then comes from what the
    decoder output, ``source == TableSource.DECODE``), or :attr:`Access.REMAPPED`: the table
    came from the decoder too, and ``decoder_pts`` [N] holds the (wrong, but unique) time the
    decoder reports for each frame, which identifies it after a seek, so seeking stays exact.
    ``access_reason`` says why the container's times were not used. ``source`` and ``access``
    may be given as their string values."""

    pts: np.ndarray
    time_base: Fraction
    key_pts: np.ndarray
    key_seek: np.ndarray
    last_duration: int
    frames_lost: int
    source: TableSource
    sizes: np.ndarray | None = None
    access: Access = Access.RANDOM
    access_reason: str = ""
    decoder_pts: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", TableSource(self.source))
        object.__setattr__(self, "access", Access(self.access))

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

    def decoder_remap(self) -> dict[int, int] | None:
        """Decoder-reported time -> table time, for a remapped table (else None)."""
        if self.decoder_pts is None:
            return None
        return dict(zip(self.decoder_pts.tolist(), self.pts.tolist()))

    def is_vfr(self) -> bool:
        if self.num_frames < 3:
            return False
        d = np.diff(self.pts)
        # one tick of jitter is rounding of a constant rate into the time base, not VFR
        return bool(d.max() - d.min() > max(1, 0.02 * float(np.median(d))))


class FrameTableCorrectedWarning(UserWarning):
    """Decoding showed the frame table wrong (e.g. packets that do not decode); the reader
    adopted the corrected one, and ``info`` changed with it."""


class SequentialAccessWarning(UserWarning):
    """A file is read by sequential decoding because random access to it cannot be exact."""


def warn_sequential(path: str, index: FrameIndex) -> None:
    how = (
        "its frame table was taken from a full decode, and frames are recognised by the times the "
        "decoder gives them (exact; the open cost one full decode)"
        if index.access is Access.REMAPPED
        else "it is read by decoding from the start (exact, but each request costs a decode up to "
        "its last frame)"
    )
    warnings.warn(f"{path}: {index.access_reason}; {how}", SequentialAccessWarning, stacklevel=4)


def median_duration(pts: np.ndarray, fallback: int) -> int:
    """A frame's typical duration in ticks (``fallback``, at least 1, with fewer than 2 frames)."""
    if pts.shape[0] >= 2:
        return int(np.median(np.diff(pts)))
    return max(1, fallback)


def warn_lost(path: str, decoded: int, total: int) -> None:
    warnings.warn(
        f"{path}: the file is truncated or damaged: {decoded} of {total} frames decode, "
        f"{total - decoded} lost; the decodable frames are returned",
        TruncatedVideoWarning,
        stacklevel=5,
    )


def require_random_access(index: FrameIndex, path: str, backend: str) -> None:
    """Refuse (UnsupportedVideoError) a random-access-only backend on a file whose frames only
    a sequential decode returns exactly, or whose tail is damaged."""
    from videopipe.errors import UnsupportedVideoError

    if index.access is not Access.RANDOM or index.source is TableSource.DECODE:
        raise UnsupportedVideoError(
            f"{path}: {backend} cannot read this file frame-exactly ({index.access_reason}); use "
            "backend='pyav' (or 'auto'), which reads it by sequential decoding"
        )
    if index.frames_lost:
        raise UnsupportedVideoError(
            f"{path}: the file is cut or damaged ({index.frames_lost} frames lost) and {backend} fails "
            "on its damaged tail; use backend='pyav' (or 'auto')"
        )
