"""The size frames are decoded at: one rule for every stage that scales a video's frames to a
model's patches (the budget's default size, the summary's span descriptions, test tokens)."""

from __future__ import annotations

__all__ = ["fit_frame_size"]


def fit_frame_size(height: int, width: int, short_side_px: int, token_px: int) -> tuple[int, int]:
    """(h, w) of a ``height`` x ``width`` frame scaled so that its shorter side is
    ``short_side_px``, aspect kept, both sides rounded to a multiple of ``token_px`` and at least
    one token."""
    scale = short_side_px / max(1, min(height, width))
    h = max(token_px, round(height * scale / token_px) * token_px)
    w = max(token_px, round(width * scale / token_px) * token_px)
    return int(h), int(w)
