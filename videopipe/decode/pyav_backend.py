"""The ``pyav`` backend: PyAV (libavcodec on the CPU).

Exact random access: for each requested frame, seek to the keyframe at or before it (from
the frame table, see :mod:`videopipe.decode.index`) and decode forward until the frame with
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

Parallel decoding (``workers``): the targets of one request are independent seeks, so a big
enough request is split into contiguous shares of its sorted targets, cut only where the
sequential decode would seek anyway (between groups of pictures), balanced by the frames each
share must decode, and decoded by one thread per share, each on its own container of the same
file (a second ``av.open``; the frame table and probe are shared, never rebuilt). libavcodec,
the demuxer and swscale run without the GIL. Results are assembled in the order asked; the
frames are those of the serial decode (each share starts with the seek the serial decode makes
there). Sequential-access files are read by one worker.

Codec threads are chosen per access pattern, by measurement on H.264, HEVC, VP9 and AV1
(``benchmarks/results/codec_threads.md``): a request whose targets are all keyframes (one
packet decoded per seek) uses slice threads only -- frame threads cannot overlap one frame and
cost their start-up and flush at every seek (up to 1.8x slower on AV1) -- and libdav1d, whose
own threads behave like frame threads, one thread; a request that decodes runs of frames uses
libavcodec's AUTO (frame and slice threads). Split over workers: one thread per worker for
keyframes, two (AUTO) per worker for runs, where frame threads still pay off. A file where frame
threads are unsafe (damaged, sequential access) never uses them. The codec context's threads
can be set only before it opens, so a request of the other pattern reopens the container
(about 0.02 s, and only when the pattern changes).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.decode.index import (
    FrameIndex,
    build_index,
    cached_decoded_table,
    decode_tolerant,
    open_container,
)
from videopipe.decode.probe import ProbeResult
from videopipe.decode.probe import probe as probe_video
from videopipe.decode.reader import BaseReader
from videopipe.errors import ConfigError, DecodeError, DeviceError, OutOfRangeError

__all__ = ["PyAVReader", "check_workers", "estimated_frames", "split_shares", "usable_cores"]

# A request goes parallel only when its shares are estimated to decode at least this many
# frames in all (below that, thread start-up and, on the first request, opening the workers'
# containers cost more than they save; see docs/decoding.md "Workers").
MIN_PARALLEL_FRAMES = 8
# What a seek costs beside decoding, in frames (keyframe-only requests are a seek + one frame
# per target): used to balance shares.
SEEK_COST_FRAMES = 1


_AUTO_WORKERS_CAP: int | None = None  # see set_auto_workers


def set_auto_workers(cap: int | None) -> None:
    """Cap what ``workers=None/0`` (one per core) means in this process: a batch worker that is
    one of N processes sharing the machine sets its share of the cores, so N readers do not
    each start a thread per core (None: no cap)."""
    global _AUTO_WORKERS_CAP
    _AUTO_WORKERS_CAP = None if cap is None else max(1, int(cap))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, capped by
    :func:`set_auto_workers`), at least 1."""
    try:
        n = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = max(1, os.cpu_count() or 1)
    return n if _AUTO_WORKERS_CAP is None else min(n, _AUTO_WORKERS_CAP)


def check_workers(workers: object) -> int:
    """The number of workers ``workers`` asks for (None/0: one per usable core)."""
    if workers is None:
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ConfigError(
            f"workers={workers!r} is not valid; pass a positive integer (decoding threads, each "
            "with its own container), or 0/None for one per usable core"
        )
    return int(workers) or usable_cores()


def _runs(index: FrameIndex, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of the sorted targets ``indices`` that the serial decode reads without a seek
    (targets in one group of pictures): (first target of each run, frames each run decodes,
    from its keyframe to its last target). Keyframe frame numbers come from the table."""
    key_frame_no = np.searchsorted(index.pts, index.key_pts)  # frame number of each keyframe
    k = np.clip(np.searchsorted(index.key_pts, index.pts[indices], side="right") - 1, 0, None)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], indices.shape[0]]
    return starts, np.maximum(indices[ends - 1] - key_frame_no[k[starts]] + 1, 1)


def estimated_frames(index: FrameIndex, indices: np.ndarray) -> int:
    """Frames the decoder must decode for the sorted targets ``indices`` (per group of
    pictures, from its keyframe to its last target)."""
    return int(_runs(index, indices)[1].sum()) if indices.shape[0] else 0


def split_shares(index: FrameIndex, indices: np.ndarray, workers: int) -> list[slice]:
    """Cut the sorted targets ``indices`` into at most ``workers`` contiguous shares of about
    equal decoding cost, only where the serial decode seeks (between runs, see :func:`_runs`),
    so that no group of pictures is decoded twice. A run costs its frames plus a seek
    (:data:`SEEK_COST_FRAMES`)."""
    n = indices.shape[0]
    if workers <= 1 or n < 2:
        return [slice(0, n)]
    starts, frames = _runs(index, indices)
    shares = min(workers, starts.shape[0])
    if shares <= 1:
        return [slice(0, n)]
    cost = (frames + SEEK_COST_FRAMES).astype(np.float64)
    cum = np.cumsum(cost)
    # a run goes to the share its middle falls in
    owner = np.minimum(((cum - cost / 2) * shares / cum[-1]).astype(np.int64), shares - 1)
    cuts = starts[1:][owner[1:] != owner[:-1]].tolist()
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class _IndexMismatch(Exception):
    """A decoded frame's pts is not where the frame table says (table built from a wrong index)."""


class FrameTableCorrectedWarning(UserWarning):
    """Decoding showed the frame table wrong (e.g. packets that do not decode); the reader
    adopted the corrected one, and ``info`` changed with it."""


class SequentialAccessWarning(UserWarning):
    """A file is read by sequential decoding because random access to it cannot be exact."""


def _warn_sequential(path: str, index: FrameIndex) -> None:
    how = (
        "its frame table was taken from a full decode, and frames are recognised by the times the "
        "decoder gives them (exact; the open cost one full decode)"
        if index.access == "remapped"
        else "it is read by decoding from the start (exact, but each request costs a decode up to "
        "its last frame)"
    )
    warnings.warn(f"{path}: {index.access_reason}; {how}", SequentialAccessWarning, stacklevel=4)


def _frame_threads_for(index: FrameIndex) -> bool:
    """Whether to decode with frame threads: they lose the frames around a decoding error (a
    cut or damaged file), and are not used where exactness rests on counting the decoder's
    output (sequential access)."""
    return index.access != "sequential" and index.frames_lost == 0


def _remap_of(index: FrameIndex) -> dict[int, int] | None:
    """Decoder-reported time -> table time, for a remapped table (else None)."""
    if index.decoder_pts is None:
        return None
    return dict(zip(index.decoder_pts.tolist(), index.pts.tolist()))


class PyAVReader(BaseReader):
    backend_name = "pyav"
    # codec threads of each worker when a request is split (the workers already use the cores):
    # keyframe-only requests, and requests decoding runs of frames (see the module docstring)
    WORKER_THREADS = 1
    WORKER_RUN_THREADS = 2

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
        self._num_workers = check_workers(workers)
        probe = probe or probe_video(path)
        self._threads = threads
        self._workers: list[PyAVReader] = []  # worker clones, each with its own container (lazy)
        self.frames_decoded = 0  # frames the decoder produced so far (decoded, not all converted)
        self.seeks = 0
        self._container = open_container(probe.path)
        self._seq: tuple[Iterator[Any], int] | None = None  # sequential cursor: (frames, next index)
        self._frame_threads = False  # until the table is built (see _open_stream)
        self._is_worker = False
        self._want: tuple[str, int] = ("SLICE", threads)  # (thread_type, thread_count) to open with
        self._applied: tuple[str, int] | None = None  # what the open stream was set up with
        try:
            self._stream = self._open_stream(probe)
            index = build_index(self._container, self._stream, probe.path)
        except BaseException:
            self._container.close()
            raise
        if index.access != "random":
            _warn_sequential(probe.path, index)
        super().__init__(probe, index, device="cpu")
        self._remap = _remap_of(index)
        self._frame_threads = _frame_threads_for(index)
        self._use_threads(keys_only=False)  # the table may have opened the codec: then afresh

    # -- setup ---------------------------------------------------------------------------
    def _open_stream(self, probe: ProbeResult) -> Any:
        c = self._container
        try:
            stream = c.streams.video[probe.video_ordinal]
        except IndexError:
            raise DecodeError(f"{probe.path}: PyAV finds no video stream #{probe.video_ordinal}") from None
        self._apply_threads(stream)
        return stream

    def _threads_for(self, keys_only: bool) -> tuple[str, int]:
        """(thread_type, thread_count; 0 = libavcodec's choice) for a request of this pattern
        (see the module docstring); a ``threads`` given to the reader sets the count."""
        frame = "AUTO" if self._frame_threads else "SLICE"
        if self._is_worker:
            return ("SLICE", self.WORKER_THREADS) if keys_only else (frame, self.WORKER_RUN_THREADS)
        if keys_only:
            dav1d = self._stream.codec_context.name == "libdav1d"
            return "SLICE", self._threads or (1 if dav1d else 0)
        return frame, self._threads

    def _use_threads(self, keys_only: bool) -> None:
        """Set the codec threads for the next request; an open codec is reopened to change them."""
        want = self._threads_for(keys_only)
        if want == self._applied:
            return
        self._want = want
        if self._stream.codec_context.is_open:
            self._reopen()  # opens a new stream with them
        else:
            self._apply_threads(self._stream)

    def _apply_threads(self, stream: Any) -> None:
        """Set ``self._want`` on ``stream``, not yet opened (a count of 0 is libavcodec's choice,
        PyAV's default)."""
        stream.thread_type, stream.codec_context.thread_count = self._want
        self._applied = self._want

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
        self._remap = _remap_of(index)
        self._frame_threads = _frame_threads_for(index)  # applies from the next request
        self._pts_s = index.seconds(index.pts)
        dur = index.duration_s
        self._info = dataclasses.replace(
            self._info,
            access=index.access,
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
            build_index(self._container, self._stream, self._probe.path, prefer_container_index=False)
        )

    def _reopen(self) -> None:
        """A fresh container positioned at the very start of the file (a seek to the first
        keyframe does not get there in every format: MPEG-TS/PS seeks can land a group late)."""
        try:
            self._container.close()
        except Exception:  # pragma: no cover
            pass
        self._container = open_container(self._probe.path)
        self._stream = self._open_stream(self._probe)
        self._seq = None

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
        if self._index.access == "sequential":
            return self._decode_sequential(indices, hw)
        self._seq = None
        while True:
            try:
                shares = self._shares(indices)
                if len(shares) == 1:
                    return self._decode_sorted_once(indices, hw)
                return self._decode_parallel(indices, shares, hw)
            except _IndexMismatch:
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

    def _worker(self, w: int) -> PyAVReader:
        """Worker ``w``: a shallow copy of this reader with its own container of the same file.
        It shares the (read-only) frame table, probe and remap, counts its own frames and
        seeks, and decodes with :attr:`WORKER_THREADS` codec threads on keyframes and
        :attr:`WORKER_RUN_THREADS` on runs of frames."""
        while len(self._workers) <= w:
            clone = copy.copy(self)
            clone._workers = []
            clone._seq = None
            clone.frames_decoded = clone.seeks = 0
            clone._is_worker = True
            clone._frame_threads = _frame_threads_for(self._index)
            clone._want = clone._threads_for(keys_only=True)
            clone._container = open_container(self._probe.path)
            try:
                clone._stream = clone._open_stream(self._probe)
            except BaseException:
                clone._container.close()
                raise
            self._workers.append(clone)
        worker = self._workers[w]
        worker._index, worker._remap = self._index, self._remap  # the table may have been replaced
        return worker

    def _decode_parallel(self, indices: np.ndarray, shares: list[slice], hw: tuple[int, int]) -> np.ndarray:
        """Each share decoded by its own worker in its own thread, into one output array."""
        workers = [self._worker(w) for w in range(len(shares))]
        out = np.empty((indices.shape[0], hw[0], hw[1], 3), np.uint8)

        def run(w: PyAVReader, share: slice) -> None:
            out[share] = w._decode_sorted_once(indices[share], hw)

        try:
            with ThreadPoolExecutor(len(shares), thread_name_prefix="videopipe-pyav") as pool:
                futures = [pool.submit(run, w, sh) for w, sh in zip(workers, shares)]
                errors = [f.exception() for f in futures]
        finally:
            for w in workers:
                self.frames_decoded += w.frames_decoded
                self.seeks += w.seeks
                w.frames_decoded = w.seeks = 0
        raised = [e for e in errors if e is not None]
        if raised:
            # a real error before a table mismatch (which makes the caller retry with a new table)
            raise next((e for e in raised if not isinstance(e, _IndexMismatch)), raised[0])
        return out

    def _distrust_table(self) -> bool:
        """A decoded frame was not where the table says: move to the next, more trustworthy
        table -- demuxed packets, then the decoder's own output (remapped), then sequential
        reading. True when seeking is worth trying again with the new table."""
        ix = self._index
        if ix.source == "container-index":
            self._rebuild_index_by_demux()
            return True
        if ix.source != "decode":
            # the decoder disagrees with the packets' timestamps: trust the decoder
            why = "decoded frame times disagree with the container's timestamps"
            self._set_index(cached_decoded_table(self._container, self._stream, self._probe.path, why))
            _warn_sequential(self._probe.path, self._index)
            return self._index.access == "remapped"
        if ix.access != "sequential":
            # seeking does not give back the frames of the sequential decode: stop seeking
            why = ix.access_reason + "; seeking does not reproduce them"
            self._set_index(dataclasses.replace(ix, access="sequential", decoder_pts=None, access_reason=why))
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
        if self._seq is None or self._seq[1] > int(indices[0]):
            self._want = self._threads_for(keys_only=False)
            self._reopen()
            self._seq = (decode_tolerant(self._container, self._stream), 0)
        frames, pos = self._seq
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
        self._seq = (frames, pos)
        if j < len(want):
            self._seq = None
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
                        raise _IndexMismatch()
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
                        raise _IndexMismatch()
                    k -= 1
                    frames = self._seek(k)
                    continue
                after_seek = False
                cur = int(t)
                if cur < target:
                    continue
                if cur > target:
                    raise _IndexMismatch()
                out[j] = self._to_rgb(f, hw)
                break
        return out

    def _iter_decoded(self, every: int, hw: tuple[int, int]) -> Iterator[tuple[int, np.ndarray]]:
        pts = self._index.pts
        self._want = self._threads_for(keys_only=False)  # a run from the start: the reopen applies it
        frames = self._seek(-1)
        if self._index.access == "sequential":
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
