"""The ``pyav`` backend: PyAV (libavcodec on the CPU).

Exact random access: for each requested frame, seek to the keyframe at or before it (from
the frame table, see :mod:`videopipe.decode.index`) and decode forward until the frame with
exactly the requested pts comes out. Requests are served in time order; when the next target
lies in the group of pictures being decoded (or the next one is not worth a seek) decoding
simply continues, so every group is decoded at most once. Only requested frames are
converted to RGB, scaled to the requested size by swscale in the same step (a full-size RGB
frame is never made when a smaller one is asked for).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.decode.index import build_index, open_container
from videopipe.decode.probe import ProbeResult
from videopipe.decode.probe import probe as probe_video
from videopipe.decode.reader import BaseReader
from videopipe.errors import DecodeError, DeviceError

__all__ = ["PyAVReader"]


class _IndexMismatch(Exception):
    """A decoded frame's pts is not where the frame table says (table built from a wrong index)."""


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
        try:
            self._stream = self._open_stream(probe)
            index = build_index(self._container, self._stream, probe.path)
        except BaseException:
            self._container.close()
            raise
        super().__init__(probe, index, device="cpu")

    # -- setup ---------------------------------------------------------------------------
    def _open_stream(self, probe: ProbeResult) -> Any:
        c = self._container
        try:
            stream = c.streams.video[probe.video_ordinal]
        except IndexError:
            raise DecodeError(f"{probe.path}: PyAV finds no video stream #{probe.video_ordinal}") from None
        stream.thread_type = "AUTO"
        if self._threads:
            stream.codec_context.thread_count = self._threads
        return stream

    def _rebuild_index_by_demux(self) -> None:
        index = build_index(self._container, self._stream, self._probe.path, prefer_container_index=False)
        if index.num_frames != self._index.num_frames:
            raise DecodeError(
                f"{self._probe.path}: the container index lists {self._index.num_frames} frames but "
                f"{index.num_frames} packets are in the file; re-mux it (ffmpeg -i IN -c copy OUT.mp4)"
            )
        self._index = index
        self._pts_s = index.seconds(index.pts)

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
        """Seek to keyframe ``k`` and decode forward from there."""
        self._seek_to(k)
        return self._container.decode(self._stream)

    def _decode_sorted(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        try:
            return self._decode_sorted_once(indices, hw)
        except _IndexMismatch:
            if self._index.source == "demux":
                raise DecodeError(
                    f"{self._probe.path}: decoded frame timestamps do not match the packet "
                    "timestamps; this file cannot be read frame-exactly by random access -- "
                    "re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
                ) from None
            self._rebuild_index_by_demux()
            return self._decode_sorted_once(indices, hw)

    def _decode_sorted_once(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        # keyframe fast path: when every target is a keyframe, tell the decoder to skip every
        # other frame, so each target costs one seek + one keyframe decode
        ix = self._index
        pts = ix.pts[indices]
        pos = np.clip(np.searchsorted(ix.key_pts, pts), 0, ix.key_pts.shape[0] - 1)
        only_keys = bool((ix.key_pts[pos] == pts).all())
        cc = self._stream.codec_context
        if only_keys and getattr(cc, "has_b_frames", True):
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
        import av

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
                try:
                    f = next(frames)
                except StopIteration:
                    f = None
                except av.FFmpegError as e:
                    raise DecodeError(f"{self._probe.path}: decoding failed near frame {i} ({e})") from None
                if f is None:
                    raise _IndexMismatch()
                self.frames_decoded += 1
                t = f.pts if f.pts is not None else f.dts
                if t is None:
                    continue
                if after_seek and t > target:
                    # the seek landed after the target: go one keyframe further back
                    if k == 0:
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
        import av

        pts = self._index.pts
        frames = self._seek(0)
        while True:
            try:
                f = next(frames)
            except StopIteration:
                return
            except av.FFmpegError:
                return  # truncated/corrupt tail: the frame table already excludes it
            t = f.pts if f.pts is not None else f.dts
            if t is None:
                continue
            i = int(np.searchsorted(pts, t))
            if i >= pts.shape[0] or pts[i] != t:
                continue  # not in the table (e.g. an undecodable tail frame)
            if i % every == 0:
                yield i, self._to_rgb(f, hw)

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self._container.close()
            except Exception:  # pragma: no cover
                pass
        super().close()
