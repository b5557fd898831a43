"""The ``pyav`` backend: PyAV (libavcodec on the CPU).

Exact random access: for each requested frame, seek to the keyframe at or before it (from
the frame table, see :mod:`videopipe.decode.build_table`) and decode forward until the frame with
exactly the requested pts comes out. Requests are served in time order; when the next target
lies in the group of pictures being decoded (or the next one is not worth a seek) decoding
simply continues, so every group is decoded at most once. A seek that lands after its
keyframe (MPEG-TS/PS demuxers land a group late) steps one keyframe further back, down to
decoding from the start of the file. Only requested frames are converted to RGB, scaled to
the requested size by swscale in the same step (a full-size RGB frame is never made when a
smaller one is asked for).

Sequential access, for files whose timestamps cannot be trusted for random access (B-frames
stored with pts = dts, packed MPEG-4 bitstreams, or any file where a decoded frame's time
disagrees with the table; ``info.access == "sequential"``): frame ``i`` is the ``i``-th frame
the decoder outputs from the start, the frame table was taken from a full decode, and a
request decodes forward from the start (or from where the previous request stopped).

Parallel decoding (``workers``): see :mod:`videopipe.decode.workers`. Codec threads per access
pattern: see :mod:`videopipe.decode.pyav_threads`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.decode.build_table import build_frame_table
from videopipe.decode.container import decode_tolerant, open_container, video_stream
from videopipe.decode.decoded_table import cached_decoded_table
from videopipe.decode.frame_table import (
    Access,
    FrameIndex,
    FrameTableCorrectedWarning,
    IndexMismatch,
    SequentialAccessWarning,
    TableSource,
    warn_sequential,
)
from videopipe.decode.probe import ProbeResult
from videopipe.decode.probe import probe as probe_video
from videopipe.decode.pyav_threads import (
    CodecThreads,
    ThreadType,
    apply_threads,
    frame_threads_for,
    reader_threads,
    worker_threads,
)
from videopipe.decode.reader import BaseReader
from videopipe.decode.workers import (
    MIN_PARALLEL_FRAMES,
    check_workers,
    decode_shares,
    estimated_frames,
    split_shares,
    usable_cores,
)
from videopipe.errors import DecodeError, DeviceError, OutOfRangeError

__all__ = [
    "FrameTableCorrectedWarning",
    "PyAVReader",
    "SequentialAccessWarning",
    "check_workers",
    "estimated_frames",
    "split_shares",
    "usable_cores",
]


@dataclass
class _Cursor:
    """Where a sequential decode from the start stands: its frames and the index of the next."""

    frames: Iterator[Any]
    next_index: int


class PyAVReader(BaseReader):
    backend_name = "pyav"

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        threads: int = 0,
        workers: int | None = None,
        probe: ProbeResult | None = None,
    ) -> None:
        if device not in ("cpu", "auto"):
            raise DeviceError(f"the pyav backend decodes on the CPU only, not {device!r}; use device='cpu'")
        num_workers = check_workers(workers)
        probe = probe or probe_video(path)
        container = open_container(probe.path)
        try:
            stream = video_stream(container, probe.path, probe.video_ordinal)
            applied = apply_threads(stream, CodecThreads(ThreadType.SLICE, threads))
            index = build_frame_table(container, stream, probe.path)
        except BaseException:
            container.close()
            raise
        if index.access is not Access.RANDOM:
            warn_sequential(probe.path, index)
        self._start(probe, index, container, stream, applied, threads=threads, workers=num_workers)
        self._use_threads(keys_only=False)  # the table may have opened the codec: then afresh

    def _start(
        self,
        probe: ProbeResult,
        index: FrameIndex,
        container: Any,
        stream: Any,
        applied: CodecThreads,
        *,
        threads: int,
        workers: int,
    ) -> None:
        """The reader's state around an open container and its stream (``applied``: the codec
        threads the stream was set up with)."""
        super().__init__(probe, index, device="cpu")
        self._threads = threads
        self._num_workers = workers
        self._workers: list[PyAVWorker] = []  # worker readers, each with its own container (lazy)
        self.frames_decoded = 0  # frames the decoder produced so far (decoded, not all converted)
        self.seeks = 0
        self._container = container
        self._stream = stream
        self._applied = applied
        self._cursor: _Cursor | None = None  # a sequential decode in progress
        self._remap = index.decoder_remap()
        self._frame_threads = frame_threads_for(index)

    # -- setup ---------------------------------------------------------------------------
    def _threads_for(self, keys_only: bool) -> CodecThreads:
        """The codec threads for a request of this pattern (see the module docstring); a
        ``threads`` given to the reader sets the count."""
        return reader_threads(
            keys_only=keys_only, frame_threads=self._frame_threads, count=self._threads, stream=self._stream
        )

    def _use_threads(self, keys_only: bool) -> None:
        """Set the codec threads for the next request; an open codec is reopened to change them."""
        want = self._threads_for(keys_only)
        if want == self._applied:
            return
        if self._stream.codec_context.is_open:
            self._reopen(want)  # opens a new stream with them
        else:
            self._applied = apply_threads(self._stream, want)

    def _set_index(self, index: FrameIndex) -> None:
        """Adopt a corrected frame table (``info`` follows it; a changed frame count warns)."""
        before = self._index.num_frames
        if index.num_frames != before:
            warnings.warn(
                f"{self._probe.path}: the frame table was corrected from {before} to {index.num_frames} "
                f"frames on a closer look ({index.access_reason or 'packets differ from the index'}); "
                "info.num_frames now says how many the decoder presents",
                FrameTableCorrectedWarning,
                stacklevel=6,
            )
        self._index = index
        self._remap = index.decoder_remap()
        self._frame_threads = frame_threads_for(index)  # applies from the next request
        self._pts_s = index.seconds(index.pts)
        dur = index.duration_s
        self._info = dataclasses.replace(
            self._info,
            access=index.access.value,
            is_vfr=index.is_vfr(),
            duration_s=dur,
            num_frames=index.num_frames,
            fps=(index.num_frames / dur) if dur > 0 else self._info.fps,
            frames_lost=index.frames_lost,
        )

    def _check_still_valid(self, indices: np.ndarray) -> None:
        """After a table correction: the requested frames must still exist."""
        n = self._index.num_frames
        if indices.shape[0] and int(indices[-1]) >= n:
            raise OutOfRangeError(
                f"{self._probe.path}: frame index(es) {indices[indices >= n][:5].tolist()} do not exist: "
                f"the frame table was corrected to {n} frames (info.num_frames); ask again with 0..{n - 1}"
            )

    def _rebuild_index_by_demux(self) -> None:
        self._set_index(
            build_frame_table(self._container, self._stream, self._probe.path, prefer_container_index=False)
        )

    def _reopen(self, threads: CodecThreads | None = None) -> None:
        """A fresh container positioned at the very start of the file (a seek to the first
        keyframe does not get there in every format: MPEG-TS/PS seeks can land a group late),
        its codec set up with ``threads`` (None: as before)."""
        try:
            self._container.close()
        except Exception:  # pragma: no cover
            pass
        self._container = open_container(self._probe.path)
        self._stream = video_stream(self._container, self._probe.path, self._probe.video_ordinal)
        self._applied = apply_threads(self._stream, threads or self._applied)
        self._cursor = None

    # -- decoding -----------------------------------------------------------------------
    def _to_rgb(self, frame: Any, hw: tuple[int, int]) -> np.ndarray:
        h, w = self._coded_hw(hw)
        if frame.height == h and frame.width == w:
            arr = frame.to_ndarray(format="rgb24")
        else:
            arr = frame.reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR").to_ndarray()
        return self._rotate(arr)

    def _seek_to(self, k: int) -> None:
        """Seek to keyframe ``k`` of the frame table (decoder buffers are flushed)."""
        import av

        ts = int(self._index.key_seek[k])
        self.seeks += 1
        try:
            self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError as e:
            raise DecodeError(f"{self._probe.path}: seek to {ts} failed ({e})") from None

    def _seek(self, k: int) -> Iterator[Any]:
        """Seek to keyframe ``k`` (``-1``: the start of the file) and decode forward from there."""
        if k < 0:
            self._reopen()
        else:
            self._seek_to(k)
        return decode_tolerant(self._container, self._stream)

    def _decode_sorted(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        if self._index.access is Access.SEQUENTIAL:
            return self._decode_sequential(indices, hw)
        self._cursor = None
        while True:
            try:
                shares = self._shares(indices)
                if len(shares) == 1:
                    return self._decode_sorted_once(indices, hw)
                return self._decode_parallel(indices, shares, hw)
            except IndexMismatch:
                again = self._distrust_table()
                self._check_still_valid(indices)
                if not again:
                    return self._decode_sequential(indices, hw)

    # -- parallel decoding ----------------------------------------------------------------
    @property
    def workers(self) -> int:
        """Decoding threads a big enough request uses (each with its own container)."""
        return self._num_workers

    def _shares(self, indices: np.ndarray) -> list[slice]:
        """How to split the sorted targets among the workers (one share: decode serially)."""
        if self._num_workers <= 1 or estimated_frames(self._index, indices) < MIN_PARALLEL_FRAMES:
            return [slice(0, indices.shape[0])]
        return split_shares(self._index, indices, self._num_workers)

    def _decode_parallel(self, indices: np.ndarray, shares: list[slice], hw: tuple[int, int]) -> np.ndarray:
        """Each share decoded by its own worker in its own thread (see
        :func:`videopipe.decode.workers.decode_shares`)."""
        while len(self._workers) < len(shares):
            self._workers.append(PyAVWorker(self))  # made on first use, kept open
        workers = self._workers[: len(shares)]
        for w in workers:
            w.follow(self)  # the table may have been replaced
        return decode_shares(self, workers, indices, shares, hw)

    def _distrust_table(self) -> bool:
        """A decoded frame was not where the table says: move to the next, more trustworthy
        table -- demuxed packets, then the decoder's own output (remapped), then sequential
        reading. True when seeking is worth trying again with the new table."""
        ix = self._index
        if ix.source is TableSource.CONTAINER_INDEX:
            self._rebuild_index_by_demux()
            return True
        if ix.source is not TableSource.DECODE:
            # the decoder disagrees with the packets' timestamps: trust the decoder
            why = "decoded frame times disagree with the container's timestamps"
            self._set_index(cached_decoded_table(self._container, self._stream, self._probe.path, why))
            warn_sequential(self._probe.path, self._index)
            return self._index.access is Access.REMAPPED
        if ix.access is not Access.SEQUENTIAL:
            # seeking does not give back the frames of the sequential decode: stop seeking
            why = ix.access_reason + "; seeking does not reproduce them"
            self._set_index(
                dataclasses.replace(ix, access=Access.SEQUENTIAL, decoder_pts=None, access_reason=why)
            )
        return False

    def _frame_t(self, f: Any) -> int | None:
        """The table time of a decoded frame (its pts; through the remap for a remapped table)."""
        t = f.pts if f.pts is not None else f.dts
        if t is None or self._remap is None:
            return t
        return self._remap.get(int(t))

    def _decode_sequential(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        """Frames ``indices`` (sorted) as the ``i``-th outputs of a decode from the start;
        continues from the previous request when that stopped before ``indices[0]``."""
        out = np.empty((indices.shape[0], hw[0], hw[1], 3), np.uint8)
        if self._cursor is None or self._cursor.next_index > int(indices[0]):
            self._reopen(self._threads_for(keys_only=False))
            self._cursor = _Cursor(decode_tolerant(self._container, self._stream), 0)
        frames, pos = self._cursor.frames, self._cursor.next_index
        j = 0
        want = indices.tolist()
        for f in frames:
            self.frames_decoded += 1
            if pos == want[j]:
                out[j] = self._to_rgb(f, hw)
                j += 1
            pos += 1
            if j == len(want):
                break
        self._cursor.next_index = pos
        if j < len(want):
            self._cursor = None
            raise DecodeError(
                f"{self._probe.path}: the decoder output {pos} frames this time, fewer than the "
                f"{self._index.num_frames} of the first full decode; the file may be changing on disk"
            )
        return out

    def _decode_sorted_once(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        # keyframe fast path: when every target is a keyframe, tell the decoder to skip every
        # other frame, so each target costs one seek + one keyframe decode
        ix = self._index
        pts = ix.pts[indices]
        pos = np.clip(np.searchsorted(ix.key_pts, pts), 0, ix.key_pts.shape[0] - 1)
        only_keys = bool((ix.key_pts[pos] == pts).all())
        self._use_threads(keys_only=only_keys)
        cc = self._stream.codec_context
        if only_keys and self._remap is None and getattr(cc, "has_b_frames", True):
            # a reordering delay: drain each keyframe (without one, skip-non-key below is as
            # fast and saves the drain; see benchmarks/results/keyframe_drain.md)
            out = self._decode_keyframes(indices, hw)
            if out is not None:
                return out
        cc.skip_frame = "NONKEY" if only_keys else "DEFAULT"
        try:
            return self._decode_targets(indices, hw)
        finally:
            cc.skip_frame = "DEFAULT"

    def _decode_keyframes(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray | None:
        """Every target is a keyframe: seek, send just its packet, then drain the decoder.

        Draining matters: a decoder with a reordering delay (B-frames) or frame threads holds
        a frame back until later packets arrive, and with non-key frames skipped those are the
        packets up to the *next* keyframe (a whole GOP demuxed per target: 60 ms instead of
        4 ms per 720p keyframe). None when a target's packet is not the first one after the
        seek or its frame does not come out (then the general path decodes them)."""
        import av

        ix, cc = self._index, self._stream.codec_context
        out = np.empty((indices.shape[0], hw[0], hw[1], 3), np.uint8)
        try:
            for j, i in enumerate(indices.tolist()):
                target = int(ix.pts[i])
                self._seek_to(ix.keyframe_for(target))
                pkt = next((p for p in self._container.demux(self._stream) if p.pts is not None), None)
                if pkt is None or pkt.pts != target or not pkt.is_keyframe:
                    return None
                decoded = [*cc.decode(pkt), *cc.decode(None)]  # None: drain what it holds
                cc.flush_buffers()  # back to a decodable state for the next seek
                self.frames_decoded += len(decoded)
                f = next((f for f in decoded if (f.pts if f.pts is not None else f.dts) == target), None)
                if f is None:
                    return None
                out[j] = self._to_rgb(f, hw)
        except av.FFmpegError:
            cc.flush_buffers()
            return None
        return out

    def _decode_targets(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:

        out = np.empty((indices.shape[0], hw[0], hw[1], 3), np.uint8)
        ix = self._index
        frames: Iterator[Any] | None = None
        cur = None  # pts of the last frame decoded in the current run
        for j, i in enumerate(indices.tolist()):
            target = int(ix.pts[i])
            k = ix.keyframe_for(target)
            if frames is None or cur is None or cur >= target or int(ix.key_pts[k]) > cur:
                frames, cur = self._seek(k), None
                after_seek = True
            else:
                after_seek = False
            while True:
                f = next(frames, None)
                if f is None:
                    if not after_seek or k < 0:
                        raise IndexMismatch()
                    # the seek landed past the last group (MPEG-TS/PS land a group late)
                    k -= 1
                    frames = self._seek(k)
                    continue
                self.frames_decoded += 1
                t = self._frame_t(f)
                if t is None:
                    continue
                if after_seek and t > target:
                    # the seek landed after the target: go one keyframe further back, and from
                    # the first keyframe to the start of the file
                    if k < 0:
                        raise IndexMismatch()
                    k -= 1
                    frames = self._seek(k)
                    continue
                after_seek = False
                cur = int(t)
                if cur < target:
                    continue
                if cur > target:
                    raise IndexMismatch()
                out[j] = self._to_rgb(f, hw)
                break
        return out

    def _iter_decoded(self, every: int, hw: tuple[int, int]) -> Iterator[tuple[int, np.ndarray]]:
        pts = self._index.pts
        self._reopen(self._threads_for(keys_only=False))  # a run from the start
        frames = decode_tolerant(self._container, self._stream)
        if self._index.access is Access.SEQUENTIAL:
            for i, f in enumerate(frames):
                if i >= pts.shape[0]:
                    return
                if i % every == 0:
                    yield i, self._to_rgb(f, hw)
            return
        for f in frames:
            t = self._frame_t(f)
            if t is None:
                continue
            i = int(np.searchsorted(pts, t))
            if i >= pts.shape[0] or pts[i] != t:
                continue  # not in the table (e.g. an undecodable tail frame)
            if i % every == 0:
                yield i, self._to_rgb(f, hw)

    def _release(self) -> None:
        for w in self._workers:
            w.close()
        self._workers = []
        try:
            self._container.close()
        except Exception:  # pragma: no cover
            pass


class PyAVWorker(PyAVReader):
    """A worker of a :class:`PyAVReader`: its own container of the same file, sharing the
    parent's (read-only) frame table, probe and remap; it counts its own frames and seeks, and
    decodes with few codec threads (:func:`~videopipe.decode.pyav_threads.worker_threads`)."""

    def __init__(self, parent: PyAVReader) -> None:
        probe = parent._probe
        container = open_container(probe.path)
        try:
            stream = video_stream(container, probe.path, probe.video_ordinal)
            frame_threads = frame_threads_for(parent._index)
            applied = apply_threads(stream, worker_threads(keys_only=True, frame_threads=frame_threads))
        except BaseException:
            container.close()
            raise
        self._start(probe, parent._index, container, stream, applied, threads=parent._threads, workers=1)

    def follow(self, parent: PyAVReader) -> None:
        """Use the parent's current frame table (it may have been replaced since)."""
        self._index, self._remap = parent._index, parent._remap

    def _threads_for(self, keys_only: bool) -> CodecThreads:
        return worker_threads(keys_only=keys_only, frame_threads=self._frame_threads)
