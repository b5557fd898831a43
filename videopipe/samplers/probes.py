"""Cheap low-resolution probes: decode frames small and count what was decoded.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader


class Probe:
    """Decodes frames at low resolution and counts them (``decoded``)."""

    def __init__(self, video: VideoReader, size_px: int) -> None:
        self.video = video
        self.size_px = size_px
        self.decoded = 0

    def frames(self, indices: Sequence[int], size_px: int | None = None) -> np.ndarray:
        """uint8 [N, h, w, 3] for ``indices`` (sorted), decoded at ``size_px`` shorter side."""
        if not len(indices):
            return np.zeros((0, 1, 1, 3), np.uint8)
        f = self.video.frames_at(list(indices), size=size_px or self.size_px)
        self.decoded += len(f)
        return f.array


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)
