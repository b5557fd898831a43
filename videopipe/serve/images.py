"""``image_url`` parts as the frames of a video: the images of one message, in order, become a
short video (one image per second, every image at the first one's size), which the pipeline
then samples and answers about like any other. Images come as ``data:image/...;base64,`` URLs
or as files under ``--allow-dir`` (checked by the path policy first)."""

from __future__ import annotations

import base64
import binascii
import io
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from videopipe.serve.errors import ApiError

__all__ = ["MAX_IMAGES", "image_bytes", "images_video"]

MAX_IMAGES = 256
_DATA = re.compile(r"data:(image/[\w.+-]+)(;[\w=.-]+)*;base64,", re.IGNORECASE)


def image_bytes(ref: str) -> bytes | None:
    """The bytes of a ``data:image/...;base64,`` URL, or None when ``ref`` is no data URL."""
    if ref[:5].lower() != "data:":
        return None
    m = _DATA.match(ref)
    if m is None:
        raise ApiError(400, "a data: image URL must be data:image/TYPE;base64,DATA", param="messages")
    try:
        return base64.b64decode(ref[m.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "the data: image URL is not valid base64", param="messages") from None


def images_video(images: Sequence[bytes | Path], into: Path) -> Path:
    """A video of ``images`` (bytes or files), one per second, written into the folder ``into``."""
    import av
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not 1 <= len(images) <= MAX_IMAGES:
        raise ApiError(400, f"give 1 to {MAX_IMAGES} image_url parts, got {len(images)}", param="messages")
    frames = []
    size: tuple[int, int] | None = None
    for i, img in enumerate(images):
        try:
            with Image.open(io.BytesIO(img) if isinstance(img, bytes) else img) as im:
                rgb = im.convert("RGB")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise ApiError(400, f"image_url part {i + 1} is not an image", param="messages") from None
        if size is None:  # even sides (4:2:0 video), at least 16 px
            size = (max(16, rgb.width // 2 * 2), max(16, rgb.height // 2 * 2))
        frames.append(np.asarray(rgb.resize(size) if rgb.size != size else rgb))
    fd, name = tempfile.mkstemp(dir=into, suffix=".mp4")
    with open(fd, "wb") as f, av.open(f, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height = size  # type: ignore[misc]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return Path(name)
