"""``color``: a deterministic image/text embedder over named colours (tests and demos).

Images map to the fraction of their pixels that are a saturated, bright shade of each named
colour (hue nearest to the colour's hue), plus one "other" dimension for everything else;
texts map to the colour words they contain (synonyms included), or to "other" when they name
none. Rows are L2-normalised, so cosine similarity of a question that names a colour with a
frame that is mostly that colour is high. The generated "needle" scenes of
:mod:`videopipe.testing.videos` are flat colours from ``NEEDLE_COLORS``, so the question
"when is the screen red?" matches the red needle. No model, no weights, no randomness.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from videopipe.errors import ConfigError, InputError
from videopipe.protocols import Embedder

# OpenCV hue (0..180) of each named colour
COLOR_HUES: dict[str, float] = {
    "red": 0.0,
    "yellow": 30.0,
    "green": 60.0,
    "cyan": 90.0,
    "blue": 120.0,
    "magenta": 150.0,
}
SYNONYMS: dict[str, str] = {
    "red": "red",
    "crimson": "red",
    "scarlet": "red",
    "yellow": "yellow",
    "gold": "yellow",
    "green": "green",
    "lime": "green",
    "cyan": "cyan",
    "turquoise": "cyan",
    "aqua": "cyan",
    "blue": "blue",
    "navy": "blue",
    "magenta": "magenta",
    "purple": "magenta",
    "pink": "magenta",
    "violet": "magenta",
    "fuchsia": "magenta",
}
COLOR_NAMES: tuple[str, ...] = tuple(COLOR_HUES)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class ColorEmbedder(Embedder):
    """Colour-descriptor embedder. ``min_saturation``/``min_value`` (0..1) decide which pixels
    count as a named colour."""

    min_saturation: float = 0.5
    min_value: float = 0.35

    name = "color"
    space = "color-v1"
    dim = len(COLOR_HUES) + 1

    def __post_init__(self) -> None:
        for k in ("min_saturation", "min_value"):
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"ColorEmbedder {k} must be in [0, 1], got {v}")

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB -> float32 [N, 7] unit rows (6 colours + other)."""
        import cv2

        arr = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise InputError(f"embed_images needs uint8 [N,H,W,3] RGB, got {arr.dtype} {tuple(arr.shape)}")
        centres = np.array(list(COLOR_HUES.values()), np.float32)
        out = np.zeros((len(arr), self.dim), np.float32)
        for k, img in enumerate(arr):
            hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float32)
            colourful = (hsv[:, 1] >= 255 * self.min_saturation) & (hsv[:, 2] >= 255 * self.min_value)
            d = np.abs(hsv[colourful, 0:1] - centres[None, :])
            d = np.minimum(d, 180.0 - d)  # hue is circular
            counts = np.bincount(d.argmin(axis=1), minlength=len(centres)).astype(np.float32)
            out[k, : len(centres)] = counts
            out[k, -1] = float((~colourful).sum())
        return _unit(out)

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> float32 [N, 7] unit rows: the colours each text names, else "other"."""
        if isinstance(texts, str):
            raise InputError("embed_texts takes a list of strings, not one string")
        out = np.zeros((len(texts), self.dim), np.float32)
        for k, text in enumerate(texts):
            for w in _WORD.findall(text.lower()):
                colour = SYNONYMS.get(w)
                if colour is not None:
                    out[k, COLOR_NAMES.index(colour)] = 1.0
            if not out[k].any():
                out[k, -1] = 1.0
        return _unit(out)


def _unit(x: np.ndarray) -> torch.Tensor:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return torch.from_numpy(x / np.maximum(n, 1e-12)).float()
