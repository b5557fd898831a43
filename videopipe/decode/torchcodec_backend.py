"""The ``torchcodec`` backend: torchcodec's ``VideoDecoder`` on the CPU, or on a CUDA GPU
(NVDEC) when torch has CUDA.

Exactness: torchcodec's ``seek_mode="exact"`` scans the whole file when it opens (demuxing
every packet) to build its frame table, ``"approximate"`` trusts the header and may return a
neighbouring frame. We pass our own frame table (see :mod:`videopipe.decode.build_table`, read from
the container index) as ``custom_frame_mappings``: exact seeking without the scan. When the
table is a constant frame rate from 0 that equals the header's rate, approximate mode computes
the same pts, so it is used (no hand-over cost). Every returned frame's pts is checked against
the table, so a disagreement raises instead of returning a neighbouring frame.

Resizing happens inside the decoder (``torchcodec.transforms.Resize``, on the GPU for CUDA
decoding), so a full-size RGB frame is never stored. torchcodec applies the rotation itself.
Frames are returned in CPU memory whatever the decode device.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from videopipe.decode.frame_table import FrameIndex
from videopipe.decode.probe import ProbeResult
from videopipe.decode.reader import RandomAccessReader
from videopipe.errors import DecodeError, DeviceError, MissingDependencyError

__all__ = ["TorchCodecReader", "frame_mappings_json"]

_MAX_DECODERS = 2  # decoders kept open (one per output size)


def _import_torchcodec() -> Any:
    try:
        from torchcodec import decoders
    except (ImportError, OSError, RuntimeError) as e:
        raise MissingDependencyError(
            f"the torchcodec backend needs a working torchcodec install ({e}); pip install torchcodec "
            "matching your torch version, or use backend='pyav'"
        ) from e
    return decoders


def frame_mappings_json(index: FrameIndex) -> str:
    """Our frame table in torchcodec's ``custom_frame_mappings`` format."""
    pts = index.pts
    dur = np.empty_like(pts)
    dur[:-1] = np.diff(pts)
    dur[-1] = index.last_duration
    keys = np.zeros(pts.shape[0], bool)
    keys[np.searchsorted(pts, index.key_pts)] = True
    frames = [
        {"pts": int(p), "duration": int(d), "key_frame": int(k)}
        for p, d, k in zip(pts.tolist(), dur.tolist(), keys.tolist())
    ]
    return json.dumps({"frames": frames})


class TorchCodecReader(RandomAccessReader):
    backend_name = "torchcodec"
    gpu_capable = True

    @staticmethod
    def refuses(probe: ProbeResult) -> str | None:
        """Why torchcodec must not read this file (it would return wrong frames), or None."""
        if probe.format_name == "avi" and probe.has_b_frames:
            # verified: the neighbouring frame for B-frames in AVI (packed bitstream), in every seek mode
            return f"torchcodec returns wrong frames for {probe.codec} with B-frames in AVI"
        if probe.format_name in ("mpegts", "mpeg", "vob"):
            # verified: its seeks land a group of pictures late and decoding then runs dry
            return f"torchcodec cannot seek exactly in MPEG-TS/PS ({probe.format_name})"
        return None

    @staticmethod
    def gpu_available() -> bool:
        try:
            import torch

            _import_torchcodec()
            return bool(torch.cuda.is_available())
        except Exception:
            return False

    def _open_library(self, device: str) -> str:
        self._decoders_mod = _import_torchcodec()
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise DeviceError(
                    f"device={device!r}: torch finds no CUDA GPU, so torchcodec cannot decode on it; "
                    "use device='cpu'"
                )
        self._decoders: dict[tuple[int, int], Any] = {}
        return "cpu" if device == "auto" else device

    def _opened(self) -> None:
        index = self._index
        self._mappings: str | None = None if self._header_is_exact() else frame_mappings_json(index)
        self._abs_pts_s = index.pts.astype(np.float64) * float(index.time_base)

    def _header_is_exact(self) -> bool:
        """True when torchcodec's approximate mode (frame i at i / header fps) lands exactly on
        our table: constant frame rate starting at 0 that agrees with the header. Saves the
        frame-table hand-over on long files; the pts check after each decode still applies."""
        ix, p = self._index, self._probe
        if ix.num_frames < 2 or int(ix.pts[0]) != 0 or p.avg_fps <= 0:
            return False
        d = np.diff(ix.pts)
        if not bool((d == d[0]).all()):
            return False
        return abs(float(d[0] * ix.time_base) * p.avg_fps - 1.0) < 1e-9

    def _decoder(self, hw: tuple[int, int]) -> Any:
        full = hw == (self.info.height, self.info.width)
        key = (-1, -1) if full else hw
        dec = self._decoders.get(key)
        if dec is None:
            while len(self._decoders) >= _MAX_DECODERS:
                self._decoders.pop(next(iter(self._decoders)))
            transforms = None
            if not full:
                from torchcodec.transforms import Resize

                transforms = [Resize(hw)]
            try:
                dec = self._decoders_mod.VideoDecoder(
                    self._probe.path,
                    stream_index=self._probe.stream_index,
                    dimension_order="NHWC",
                    num_ffmpeg_threads=self._threads,
                    device=self._device,
                    transforms=transforms,
                    **(
                        {"seek_mode": "approximate"}
                        if self._mappings is None
                        else {"custom_frame_mappings": self._mappings}
                    ),
                )
            except (RuntimeError, ValueError) as e:
                raise DecodeError(
                    f"{self._probe.path}: torchcodec cannot open the file ({e}); use backend='pyav'"
                ) from None
            self._decoders[key] = dec
        return dec

    def _decode_sorted(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        dec = self._decoder(hw)
        try:
            batch = dec.get_frames_at(indices.tolist())
        except (RuntimeError, IndexError) as e:
            raise DecodeError(
                f"{self._probe.path}: torchcodec failed to decode frames ({e}); use backend='pyav'"
            ) from None
        got = batch.pts_seconds.double().cpu().numpy()
        want = self._abs_pts_s[indices]
        if np.abs(got - want).max(initial=0.0) > 0.5 * float(self._index.time_base) + 1e-6:
            raise DecodeError(
                f"{self._probe.path}: torchcodec returned frames at {got[:3].tolist()} s for pts "
                f"{want[:3].tolist()} s; use backend='pyav'"
            )
        data = batch.data
        if tuple(data.shape[1:3]) != hw:
            raise DecodeError(
                f"{self._probe.path}: torchcodec returned {tuple(data.shape[1:3])} frames, not {hw}"
            )
        return data.cpu().numpy()

    def _release(self) -> None:
        self._decoders.clear()
