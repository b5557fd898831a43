"""An in-memory VideoReader over rendered frames (no codec): exact, fast, and it counts what a
real decoder would have to decode (frames from the preceding keyframe on each seek)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from videopipe.testing.videos import VideoSpec, render_frames
from videopipe.types import Frames, VideoInfo


class FakeReader:
    def __init__(
        self, frames: np.ndarray, *, fps: float = 25.0, gop: int = 50, path: str = "fake.mp4"
    ) -> None:
        self._frames = frames
        self.fps = fps
        self.gop = max(1, gop)
        n, h, w, _ = frames.shape
        self._info = VideoInfo(
            path=path,
            duration_s=n / fps,
            fps=fps,
            num_frames=n,
            width=w,
            height=h,
            codec="fake",
            backend="fake",
        )
        self.requested = 0  # frames returned
        self.decode_cost = 0  # frames a real decoder would decode for those requests
        self._pos = -1  # last decoded frame (sequential decoding continues from here)

    @classmethod
    def from_spec(cls, spec: VideoSpec, **kw: object) -> FakeReader:
        frames = np.stack(list(render_frames(spec)))
        return cls(frames, fps=spec.fps, gop=spec.gop, **kw)  # type: ignore[arg-type]

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def pts_s(self) -> np.ndarray:
        return np.arange(self._info.num_frames, dtype=np.float64) / self.fps

    def packet_sizes(self) -> np.ndarray | None:
        return None  # unknown, like a reader without a frame table of packet sizes

    def _resize(self, arr: np.ndarray, size: int | tuple[int, int] | None) -> np.ndarray:
        import cv2

        if size is None:
            return arr
        h, w = arr.shape[1:3]
        if isinstance(size, int):
            s = size / min(h, w)
            size = (max(1, round(h * s)), max(1, round(w * s)))
        return np.stack([cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_AREA) for a in arr])

    def frames_at(self, indices: Sequence[int], *, size: int | tuple[int, int] | None = None) -> Frames:
        idx = [int(i) for i in indices]
        for i in sorted(idx):
            key = i - i % self.gop
            if self._pos < key or self._pos >= i:  # seek to the keyframe, decode forward
                self.decode_cost += i - key + 1
            else:
                self.decode_cost += i - self._pos
            self._pos = i
        self.requested += len(idx)
        data = self._resize(self._frames[idx], size)
        return Frames(
            data=torch.from_numpy(np.ascontiguousarray(data)), pts_s=np.array(idx) / self.fps, indices=idx
        )

    def frames_at_times(
        self, times_s: Sequence[float], *, size: int | tuple[int, int] | None = None
    ) -> Frames:
        n = self._info.num_frames
        return self.frames_at([min(n - 1, max(0, round(t * self.fps))) for t in times_s], size=size)

    def keyframe_times(self) -> list[float]:
        return [i / self.fps for i in range(0, self._info.num_frames, self.gop)]

    def iter_frames(self, *, every: int = 1, size: int | tuple[int, int] | None = None) -> Iterator[Frames]:
        for s in range(0, self._info.num_frames, 64 * every):
            yield self.frames_at(list(range(s, min(s + 64 * every, self._info.num_frames), every)), size=size)

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
