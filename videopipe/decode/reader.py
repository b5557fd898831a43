"""What every backend shares: argument validation, the index <-> time mapping, output sizes,
rotation, and the VideoInfo. A backend implements ``_decode_sorted`` (and may override
``_iter_decoded``/``keyframe_times``).

Definitions (the same for every backend):

- frame ``i`` is the ``i``-th frame (0-based) a sequential decode of the video stream presents;
- ``pts_s`` is its presentation time in seconds, measured from the first frame
  (``info.start_time_s`` is the first frame's time in the container's own clock);
- ``frames_at_times(t)`` returns, for each ``t``, the frame being displayed at ``t``: the last
  frame whose ``pts_s <= t``. Valid times are ``0 <= t < info.duration_s`` (the end of the
  last frame); anything else raises :class:`OutOfRangeError`;
- ``size=int`` scales the *shorter* side to that many pixels keeping the aspect ratio;
  ``size=(h, w)`` gives the exact output size. Sizes are of the upright (rotated) frame.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videopipe.decode.frame_table import FrameIndex
from videopipe.decode.probe import ProbeResult
from videopipe.errors import (
    ConfigError,
    OutOfRangeError,
    UnsupportedVideoError,
    library_errors_as_decode_errors,
)
from videopipe.settings import MAX_SIZE_PX
from videopipe.types import Frames, VideoInfo

__all__ = ["BaseReader", "SizeArg", "output_size", "ITER_CHUNK_FRAMES"]

SizeArg = int | tuple[int, int] | None

ITER_CHUNK_FRAMES = 16  # frames per chunk yielded by iter_frames

# the longer side of an exact (h, w) size: 4x the shorter-side limit (MAX_SIZE_PX, the CLI's)
MAX_LONG_SIDE_PX = 4 * MAX_SIZE_PX


def output_size(height: int, width: int, size: SizeArg) -> tuple[int, int]:
    """(h, w) of a frame of (height, width) decoded with ``size`` (see module docstring)."""
    if size is None:
        return height, width
    if isinstance(size, bool):
        raise ConfigError(f"size {size!r} is not valid; pass an int (shorter side, px) or (h, w)")
    if isinstance(size, (int, np.integer)):
        s = int(size)
        if not 1 <= s <= MAX_SIZE_PX:
            raise ConfigError(f"size {s} is out of range: the shorter side must be 1 to {MAX_SIZE_PX} px")
        scale = s / max(1, min(height, width))
        if height <= width:
            return s, max(1, round(width * scale))
        return max(1, round(height * scale)), s
    try:
        h, w = (int(v) for v in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(
            f"size {size!r} is not valid; pass an int (shorter side, px) or a (height, width) pair"
        ) from None
    if h < 1 or w < 1:
        raise ConfigError(f"size {size!r} must be positive (height, width) in pixels")
    if min(h, w) > MAX_SIZE_PX or max(h, w) > MAX_LONG_SIDE_PX:
        raise ConfigError(
            f"size {size!r} is too large: the shorter side may be at most {MAX_SIZE_PX} px and the "
            f"longer {MAX_LONG_SIDE_PX} px"
        )
    return h, w


class BaseReader(ABC):
    """Shared implementation of the :class:`videopipe.protocols.VideoReader` protocol.

    What a backend declares about itself (``open_video``/``choose_backend`` read these, never
    probe for them): ``backend_name``; ``gpu_capable`` (it has a GPU decode path at all);
    :meth:`gpu_available` (that path works on this machine); :meth:`refuses` (files it is known
    to return wrong frames for, from the probe alone).

    A reader may be shared by threads: its calls take turns (one lock around decoding; an
    ``iter_frames`` iteration holds it until it ends or is closed). Threads that want to decode
    at the same time open a reader each (or use the pyav backend's ``workers``)."""

    backend_name = "base"
    gpu_capable: ClassVar[bool] = False
    # a reader whose __init__ did not finish counts as closed (close() and __del__ read this)
    _closed: bool = True

    @staticmethod
    def refuses(probe: ProbeResult) -> str | None:
        """Why this backend must not read the file described by ``probe``, or None."""
        return None

    @staticmethod
    def gpu_available() -> bool:
        """True when this backend can decode on a CUDA GPU here."""
        return False

    @classmethod
    def accepted(cls, probe: ProbeResult, *, instead: str) -> ProbeResult:
        """``probe``, unless this backend :meth:`refuses` the file: then UnsupportedVideoError
        naming why and what to use ``instead``."""
        why = cls.refuses(probe)
        if why:
            raise UnsupportedVideoError(f"{probe.path}: {why}; use {instead}")
        return probe

    def __init__(self, probe: ProbeResult, index: FrameIndex, *, device: str = "cpu") -> None:
        self._probe = probe
        self._index = index
        self._device = device
        self._lock = threading.RLock()  # one decode at a time (libav* contexts are not shared)
        self._closed = False
        self._demuxed_sizes: tuple[FrameIndex, np.ndarray | None] | None = None
        self._pts_s = index.seconds(index.pts)
        rot = probe.rotation
        w, h = (probe.height, probe.width) if rot in (90, 270) else (probe.width, probe.height)
        dur = index.duration_s
        self._info = VideoInfo(
            path=probe.path,
            duration_s=dur,
            fps=(index.num_frames / dur) if dur > 0 else probe.avg_fps,
            num_frames=index.num_frames,
            width=w,
            height=h,
            codec=probe.codec,
            rotation=rot,
            is_vfr=index.is_vfr(),
            backend=self.backend_name,
            start_time_s=index.start_time_s,
            num_frames_exact=True,
            has_audio=probe.has_audio,
            frames_lost=index.frames_lost,
            access=index.access.value,
        )

    # -- public API -----------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def frames_lost(self) -> int:
        """Frames the header/index announces that do not decode (truncated file), else 0."""
        return self._index.frames_lost

    @property
    def pts_s(self) -> np.ndarray:
        """Presentation time (s from the first frame) of every frame; a copy."""
        return self._pts_s.copy()

    def frames_at(self, indices: Sequence[int], *, size: SizeArg = None) -> Frames:
        """Frames at these positions (any order, repeats allowed), returned in the order asked."""
        with self._lock:
            self._check_open()
            idx = self._validate_indices(indices)
            hw = self._out_hw(size)
            if idx.shape[0] == 0:
                return self._empty(hw)
            uniq, inverse = np.unique(idx, return_inverse=True)
            with library_errors_as_decode_errors(
                f"{self._probe.path}: decoding frames {uniq[:3].tolist()} failed",
                "the file may be damaged -- try backend='pyav' or re-encode it",
            ):
                data = self._decode_sorted(uniq, hw)
        if uniq.shape[0] != idx.shape[0] or not np.array_equal(uniq, idx):
            data = data[inverse.reshape(-1)]
        return Frames(data=data, pts_s=self._pts_s[idx], indices=idx)

    def frames_at_times(self, times_s: Sequence[float], *, size: SizeArg = None) -> Frames:
        """The frame displayed at each time (last frame with ``pts_s <= t``)."""
        return self.frames_at(self.indices_at_times(times_s), size=size)

    def indices_at_times(self, times_s: Sequence[float]) -> np.ndarray:
        """Frame index displayed at each time (see module docstring)."""
        t = np.asarray(list(times_s) if not isinstance(times_s, np.ndarray) else times_s, np.float64)
        t = t.reshape(-1)
        dur = self._info.duration_s
        bad = ~np.isfinite(t) | (t < 0) | (t >= dur)
        if bad.any():
            raise OutOfRangeError(
                f"{self._probe.path}: time(s) {t[bad][:5].tolist()} s outside the video; valid times "
                f"are 0 <= t < {dur:.6g} s (duration)"
            )
        # tiny tolerance: a time computed as pts/fps in floating point must hit its own frame
        return np.searchsorted(self._pts_s, t + 1e-9, side="right").astype(np.int64) - 1

    def keyframe_times(self) -> list[float]:
        """Presentation times (s from the first frame) of the keyframes, from the container
        index or packet flags; nothing is decoded."""
        self._check_open()
        return [float(x) for x in self._index.seconds(self._index.key_pts)]

    def packet_sizes(self) -> np.ndarray | None:
        """Compressed size (bytes) of every frame's packet, int64 [num_frames] in presentation
        order (a copy), or None where unknown. Nothing is decoded: the sizes come with the frame
        table, except for a container index of a stream with B-frames (decode order, no pts
        per entry): the first call then maps them by the MP4 ``ctts`` offsets, or demuxes every
        packet when those are not available (then cached)."""
        with self._lock:
            self._check_open()
            return self._packet_sizes()

    def _packet_sizes(self) -> np.ndarray | None:
        sizes = self._index.sizes
        if sizes is None:
            cached = self._demuxed_sizes
            if cached is None or cached[0] is not self._index:
                from videopipe.decode.packet_sizes import packet_sizes_for

                got = packet_sizes_for(self._probe.path, self._probe.video_ordinal, self._index)
                cached = (self._index, got)
                self._demuxed_sizes = cached
            sizes = cached[1]
        return None if sizes is None else sizes.copy()

    def iter_frames(self, *, every: int = 1, size: SizeArg = None) -> Iterator[Frames]:
        """Every ``every``-th frame in order, in chunks of at most ITER_CHUNK_FRAMES frames;
        memory stays constant in the video's length."""
        self._check_open()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ConfigError(f"every={every!r} must be an integer >= 1")
        hw = self._out_hw(size)
        buf: list[np.ndarray] = []
        ids: list[int] = []
        with self._lock:  # held until the iteration ends or the generator is closed
            for i, arr in self._iter_decoded(int(every), hw):
                buf.append(arr)
                ids.append(i)
                if len(buf) == ITER_CHUNK_FRAMES:
                    yield Frames(np.stack(buf), self._pts_s[ids], np.asarray(ids))
                    buf, ids = [], []
            if buf:
                yield Frames(np.stack(buf), self._pts_s[ids], np.asarray(ids))

    def close(self) -> None:
        """Release the decoder (waits for a decode in progress in another thread)."""
        with self.__dict__.get("_lock") or nullcontext():
            if not self._closed:
                self._release()
            self._closed = True

    def _release(self) -> None:  # noqa: B027 - a backend that holds nothing needs nothing here
        """Free what the backend holds (called once, by close)."""

    def __enter__(self) -> BaseReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        i = self._info
        return (
            f"{type(self).__name__}({i.path!r}, {i.num_frames} frames, {i.width}x{i.height}, "
            f"{i.duration_s:.3f}s, backend={i.backend})"
        )

    # -- for backends -------------------------------------------------------------------
    @abstractmethod
    def _decode_sorted(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        """uint8 [len(indices), h, w, 3] for strictly increasing valid ``indices``."""

    def _iter_decoded(self, every: int, hw: tuple[int, int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, uint8 [h, w, 3]) for every ``every``-th frame, sequentially."""
        n = self._info.num_frames
        step = max(1, ITER_CHUNK_FRAMES)
        for start in range(0, n, every * step):
            idx = np.arange(start, min(n, start + every * step), every)
            yield from zip(idx.tolist(), self._decode_sorted(idx, hw))

    def _coded_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Size to scale to *before* rotation, so that the rotated frame is ``hw``."""
        return (hw[1], hw[0]) if self._probe.rotation in (90, 270) else hw

    def _rotate(self, arr: np.ndarray) -> np.ndarray:
        """Apply the display rotation (counter-clockwise degrees) to an [H, W, 3] frame."""
        k = self._probe.rotation // 90
        return np.ascontiguousarray(np.rot90(arr, k)) if k else arr

    def _out_hw(self, size: SizeArg) -> tuple[int, int]:
        return output_size(self._info.height, self._info.width, size)

    def _pts_ticks(self, i: int) -> int:
        return int(self._index.pts[i])

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(f"{self._probe.path}: the reader is closed; open the video again")

    def _validate_indices(self, indices: Sequence[int]) -> np.ndarray:
        try:
            arr = np.asarray(indices)
        except (TypeError, ValueError):
            raise ConfigError(f"indices {indices!r} must be a sequence of integers") from None
        arr = arr.reshape(-1)
        if arr.shape[0] and not np.issubdtype(arr.dtype, np.integer):
            if (
                np.issubdtype(arr.dtype, np.floating)
                and np.all(np.isfinite(arr))
                and np.all(arr == np.round(arr))
            ):
                arr = arr.astype(np.int64)
            else:
                raise ConfigError(f"indices must be integers, got {arr[:5].tolist()} ({arr.dtype})")
        arr = arr.astype(np.int64)
        n = self._info.num_frames
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            raise OutOfRangeError(
                f"{self._probe.path}: frame index(es) {arr[bad][:5].tolist()} outside the video; "
                f"valid indices are 0..{n - 1} ({n} frames)"
            )
        return arr

    def _empty(self, hw: tuple[int, int]) -> Frames:
        return Frames(
            data=np.zeros((0, hw[0], hw[1], 3), dtype=np.uint8),
            pts_s=np.zeros(0),
            indices=np.zeros(0, np.int64),
        )


class RandomAccessReader(BaseReader):
    """A backend that seeks with its own library, our frame table handed over (decord,
    torchcodec). Opening one is the same steps for each: the probe accepted (or the file
    refused, naming ``instead``), the library and the device checked (:meth:`_open_library`),
    the random-access frame table read, then the backend's own checks (:meth:`_opened`)."""

    #: what to use instead when this backend refuses a file (in the refusal)
    instead: ClassVar[str] = "backend='pyav'"

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        threads: int = 0,
        probe: ProbeResult | None = None,
    ) -> None:
        from videopipe.decode.build_table import random_access_table
        from videopipe.decode.probe import probe as probe_video

        checked = self.accepted(probe or probe_video(path), instead=self.instead)
        runs_on = self._open_library(device)
        self._threads = threads
        index = random_access_table(checked.path, checked.video_ordinal, self.backend_name)
        super().__init__(checked, index, device=runs_on)
        self._opened()

    @abstractmethod
    def _open_library(self, device: str) -> str:
        """Import the library and check that it can decode on ``device``; return the device the
        reader records."""

    def _opened(self) -> None:
        """The backend's checks once the frame table is read (default: none)."""
