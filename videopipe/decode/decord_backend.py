"""The ``decord`` backend: decord's ``VideoReader`` (CPU, or NVDEC when decord was built with CUDA).

decord has known random-access bugs (dmlc/decord#91 wrong frames after seeking in VP8/WebM,
#195 nondeterministic ``get_batch`` on AVI, #365 wrong frames with many B-frames, #373 an
endless loop when asked for frames past the real end, #54 messy timestamps). They are kept
from leaking out as follows:

1. decord is only used for containers/codecs where our tests verify it exact against a
   sequential decode (:data:`VERIFIED`): H.264/HEVC in MP4/MOV/MKV. Anything else raises
   :class:`UnsupportedVideoError` naming a backend that can read the file.
2. On open, decord's own frame table (``get_frame_timestamp``) must equal ours (pts of every
   frame from the container, see :mod:`videopipe.decode.build_table`) frame for frame; if not (e.g.
   B-frames in AVI, where decord's indices are shifted), the file is refused the same way.
3. Videos with rotation metadata are refused (decord's resize of rotated frames fails).
4. Indices passed to decord always come from our table, which only holds frames that decode,
   so decord is never asked for a frame past the real end (#373).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videopipe.decode.probe import ProbeResult
from videopipe.decode.reader import RandomAccessReader
from videopipe.errors import DecodeError, DeviceError, MissingDependencyError, UnsupportedVideoError

__all__ = ["DecordReader", "VERIFIED"]

# (container format name fragment, codec) pairs decord is verified frame-exact on
VERIFIED = {
    ("mp4", "h264"),
    ("mp4", "hevc"),
    ("matroska", "h264"),
    ("matroska", "hevc"),
}

_MAX_READERS = 2  # decord readers kept open (one per output size)


def _import_decord() -> Any:
    try:
        import decord
    except ImportError as e:
        raise MissingDependencyError(
            "the decord backend needs the decord package (pip install decord); or use backend='pyav'"
        ) from e
    return decord


def _decord_has_cuda() -> bool:
    decord = _import_decord()
    try:
        decord.VideoReader.__init__  # noqa: B018 - import check
        ctx = decord.gpu(0)
        return bool(ctx.exist)
    except Exception:
        return False


class DecordReader(RandomAccessReader):
    backend_name = "decord"
    gpu_capable = True

    @staticmethod
    def refuses(probe: ProbeResult) -> str | None:
        """Why decord must not read this file (known to return wrong frames), or None."""
        if not any(f in probe.format_name for f, c in VERIFIED if c == probe.codec):
            return (
                f"decord is not verified frame-exact on {probe.codec} in {probe.format_name} "
                "(known decord seek bugs)"
            )
        if probe.rotation:
            # decord rotates, but then copies a resized frame into a buffer of the unrotated
            # shape ("DECORDArrayCopyFromTo: The size must exactly match")
            return f"decord cannot resize videos with rotation metadata ({probe.rotation} deg)"
        return None

    @staticmethod
    def gpu_available() -> bool:
        """True when decord was built with CUDA and sees a GPU."""
        return _decord_has_cuda()

    instead = "backend='pyav' or 'torchcodec'"

    def _open_library(self, device: str) -> str:
        decord = _import_decord()
        if device.startswith("cuda"):
            if not _decord_has_cuda():
                raise DeviceError(
                    f"device={device!r}: this decord build has no CUDA support (pip wheels are CPU-only); "
                    "build decord with -DUSE_CUDA=ON, or use backend='torchcodec' for GPU decoding"
                )
            ordinal = int(device.split(":")[1]) if ":" in device else 0
            self._ctx = decord.gpu(ordinal)
        else:
            self._ctx = decord.cpu(0)
        self._readers: dict[tuple[int, int], Any] = {}
        return device

    def _opened(self) -> None:
        self._check_table()

    def _reader(self, hw: tuple[int, int]) -> Any:
        key = hw if hw != (self.info.height, self.info.width) else (-1, -1)
        vr = self._readers.get(key)
        if vr is None:
            decord = _import_decord()
            while len(self._readers) >= _MAX_READERS:
                self._readers.pop(next(iter(self._readers)))
            # decord applies the rotation itself and then scales to width x height
            kw = {} if key == (-1, -1) else {"width": hw[1], "height": hw[0]}
            try:
                vr = decord.VideoReader(self._probe.path, ctx=self._ctx, num_threads=self._threads, **kw)
            except Exception as e:  # decord raises its own DECORDError
                raise DecodeError(
                    f"{self._probe.path}: decord cannot open the file ({e}); use backend='pyav'"
                ) from None
            self._readers[key] = vr
        return vr

    def _check_table(self) -> None:
        vr = self._reader((self.info.height, self.info.width))
        n = len(vr)
        ours = self._pts_s
        ok = n == ours.shape[0]
        if ok:
            # decord reports float32 seconds: allow their rounding (relative 2^-22), which stays
            # far below half a frame interval, so equality still means "the same frame"
            ts = np.asarray(vr.get_frame_timestamp(np.arange(n)))[:, 0].astype(np.float64)
            ts = ts - ts[0]
            tol = (
                np.maximum(0.5 * float(self._index.time_base), 4 * np.finfo(np.float32).eps * np.abs(ours))
                + 1e-6
            )
            gap = float(np.diff(ours).min()) if n > 1 else 1.0
            ok = bool((np.abs(ts - ours) <= np.minimum(tol, 0.25 * gap)).all())
        if not ok:
            self.close()
            raise UnsupportedVideoError(
                f"{self._probe.path}: decord's frame table disagrees with the container's presentation "
                "timestamps, so decord would return wrong frames here; use backend='pyav' or 'torchcodec'"
            )

    def _decode_sorted(self, indices: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        vr = self._reader(hw)
        try:
            batch = vr.get_batch(indices.tolist())
        except Exception as e:
            raise DecodeError(
                f"{self._probe.path}: decord failed to decode frames ({e}); use backend='pyav'"
            ) from None
        arr = batch.asnumpy()
        if arr.shape[1:3] != hw:
            raise DecodeError(
                f"{self._probe.path}: decord returned {arr.shape[1:3]} frames, not {hw}; use backend='pyav'"
            )
        return np.ascontiguousarray(arr)

    def _release(self) -> None:
        self._readers.clear()
