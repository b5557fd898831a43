"""Writing frames to disk: one JPEG per frame and a contact sheet PNG.

:class:`FrameWriter` takes the frames in chunks, as they are decoded, and keeps none of them:
each JPEG is written at once, and the contact sheet is written to its PNG one row of
thumbnails at a time (so memory does not grow with the number of frames)."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.types import Frames

SHEET_TILE_W = 256  # contact sheet thumbnail width, px
SHEET_LABEL_H = 16  # label strip under each thumbnail, px


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class _BandPNG:
    """An RGB PNG of known size written band by band (each band: rows of pixels, top down)."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self._f = path.open("wb")
        self._z = zlib.compressobj(1)  # fast, as the contact sheet always was (compress_level=1)
        self._rows_left = height
        self._f.write(b"\x89PNG\r\n\x1a\n")
        self._f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))

    def write(self, band: np.ndarray) -> None:
        """uint8 [h, width, 3] rows, each stored with the PNG "Sub" filter (left-neighbour delta)."""
        rows = np.ascontiguousarray(band, np.uint8).reshape(band.shape[0], -1)
        sub = rows.copy()
        sub[:, 3:] -= rows[:, :-3]  # uint8 arithmetic wraps modulo 256, as the filter defines
        data = np.concatenate([np.ones((rows.shape[0], 1), np.uint8), sub], axis=1)
        self._idat(self._z.compress(data.tobytes()))
        self._rows_left -= band.shape[0]

    def close(self) -> None:
        if self._rows_left != 0:  # pragma: no cover - a bug of the caller
            raise RuntimeError(f"PNG closed {self._rows_left} rows short")
        self._idat(self._z.flush())
        self._f.write(_png_chunk(b"IEND", b""))
        self._f.close()

    def _idat(self, data: bytes) -> None:
        if data:
            self._f.write(_png_chunk(b"IDAT", data))


class FrameWriter:
    """``frame_<index>_<time>.jpg`` per frame and ``contact_sheet.png`` (``columns`` thumbnails
    of :data:`SHEET_TILE_W` px per row, each labelled ``#index time``) in ``out``, for
    ``count`` frames of ``height`` x ``width`` px given in chunks to :meth:`write`."""

    def __init__(self, out: Path, *, count: int, height: int, width: int, columns: int = 8) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.paths: list[Path] = []
        self._count = count
        self._tw = SHEET_TILE_W
        self._th = max(1, round(self._tw * height / max(1, width)))
        self._cols = max(1, min(columns, count))
        self._sheet: _BandPNG | None = None
        if count:
            rows = math.ceil(count / self._cols)
            band_h = self._th + SHEET_LABEL_H
            self._sheet = _BandPNG(out / "contact_sheet.png", self._cols * self._tw, rows * band_h)
        self._band: Any = None
        self._in_band = 0

    def write(self, frames: Frames) -> None:
        from PIL import Image, ImageDraw

        host = frames.array
        for k in range(len(frames)):
            img = Image.fromarray(host[k])
            idx, t = int(frames.index_array[k]), float(frames.pts_array[k])
            p = self.out / f"frame_{idx:08d}_{t:010.3f}s.jpg"
            img.save(p, quality=90)
            self.paths.append(p)
            if self._band is None:
                self._band = Image.new("RGB", (self._cols * self._tw, self._th + SHEET_LABEL_H), "black")
            c = self._in_band
            # area average
            self._band.paste(img.resize((self._tw, self._th), Image.Resampling.BOX), (c * self._tw, 0))
            ImageDraw.Draw(self._band).text(
                (c * self._tw + 4, self._th + 2), f"#{idx} {t:.2f}s", fill="white"
            )
            self._in_band += 1
            if self._in_band == self._cols:
                self._flush_band()

    def close(self) -> list[Path]:
        """Finish the contact sheet; the JPEGs written."""
        if self._band is not None:
            self._flush_band()
        if self._sheet is not None:
            self._sheet.close()
            self._sheet = None
        if len(self.paths) != self._count:
            raise RuntimeError(f"{len(self.paths)} frames written, {self._count} announced")
        return self.paths

    def _flush_band(self) -> None:
        assert self._sheet is not None
        self._sheet.write(np.asarray(self._band))
        self._band, self._in_band = None, 0


def write_frames(frames: Frames, out: Path, *, columns: int = 8) -> list[Path]:
    """Write ``frame_<index>_<time>.jpg`` files and ``contact_sheet.png`` into ``out``."""
    writer = FrameWriter(out, count=len(frames), height=frames.height, width=frames.width, columns=columns)
    writer.write(frames)
    return writer.close()
