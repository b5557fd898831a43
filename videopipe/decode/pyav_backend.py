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
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
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
from videopipe.errors import DecodeError, DeviceError

__all__ = ["PyAVReader"]


class _IndexMismatch(Exception):
    """A decoded frame's pts is not where the frame table says (table built from a wrong index)."""


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

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        threads: int = 0,
        probe: ProbeResult | None = None,
    ) -> None:
        if device not in ("cpu", "auto"):
            raise DeviceError(f"the pyav backend decodes on the CPU only, not {device!r}; use device='cpu'")
        probe = probe or probe_video(path)
        self._threads = threads
        self.frames_decoded = 0  # frames the decoder produced so far (decoded, not all converted)
        self.seeks = 0
        self._container = open_container(probe.path)
        self._seq: tuple[Iterator[Any], int] | None = None  # sequential cursor: (frames, next index)
        self._frame_threads = False  # until the table is built (see _open_stream)
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
        if self._frame_threads:
            if self._stream.codec_context.is_open:  # the table decoded frames: start afresh
                self._reopen()
            else:
                self._stream.thread_type = "AUTO"

    # -- setup ---------------------------------------------------------------------------
    def _open_stream(self, probe: ProbeResult) -> Any:
        c = self._container
        try:
            stream = c.streams.video[probe.video_ordinal]
        except IndexError:
            raise DecodeError(f"{probe.path}: PyAV finds no video stream #{probe.video_ordinal}") from None
        if self._frame_threads:
            stream.thread_type = "AUTO"
        if self._threads:
            stream.codec_context.thread_count = self._threads
        return stream

    def _set_index(self, index: FrameIndex) -> None:
        if index.num_frames != self._index.num_frames:
            raise DecodeError(
                f"{self._probe.path}: the frame table changed from {self._index.num_frames} to "
                f"{index.num_frames} frames on a closer look ({index.access_reason or 'packets differ from the index'}); "
                "open the video again"
            )
        self._index = index
        self._remap = _remap_of(index)
        self._frame_threads = _frame_threads_for(index)  # applies from the next _reopen
        self._pts_s = index.seconds(index.pts)
        self._info = dataclasses.replace(
            self._info, access=index.access, is_vfr=index.is_vfr(), duration_s=index.duration_s
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
                return self._decode_sorted_once(indices, hw)
            except _IndexMismatch:
                if not self._distrust_table():
                    return self._decode_sequential(indices, hw)

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

    def close(self) -> None:
        if not self._closed:
            try:
                self._container.close()
            except Exception:  # pragma: no cover
                pass
        super().close()
