"""Frame sizes from a :class:`~videopipe.types.Budget`: how many frames fit, the default size, and
the largest token-aligned size for a per-frame token budget.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videopipe.types import Budget

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader


def frame_budget(video: VideoReader, budget: Budget) -> int:
    """How many frames at ``budget.size_px`` fit in the frame and token budget (>= 1 when the
    video has frames, even if one frame is over the token budget: the caller shrinks it)."""
    info = video.info
    h, w = budget.frame_size(info.height or budget.size_px, info.width or budget.size_px)
    return max(1, budget.max_frames_for(h, w))


def default_size(video: VideoReader, budget: Budget) -> tuple[int, int]:
    info = video.info
    return budget.frame_size(info.height or budget.size_px, info.width or budget.size_px)


def size_for_tokens(
    video: VideoReader, budget: Budget, tokens_per_frame: float, *, min_short_px: int | None = None
) -> tuple[int, int] | None:
    """The largest frame size (shorter side a multiple of ``token_px``, at most ``size_px``) whose
    token count is <= ``tokens_per_frame``; None when even the smallest allowed size is over."""
    info = video.info
    hh, ww = info.height or budget.size_px, info.width or budget.size_px
    s = budget.size_px - budget.size_px % budget.token_px or budget.token_px
    lo = min(min_short_px or budget.token_px, s)  # size_px itself may not be a multiple of token_px
    while s >= lo:
        h, w = budget.frame_size(hh, ww, s)
        if budget.tokens_per_frame(h, w) <= tokens_per_frame:
            return h, w
        s -= budget.token_px
    return None


def fit_size(video: VideoReader, budget: Budget, n: int) -> tuple[int, int] | None:
    """None when ``n`` frames at the default size fit the token budget, else the largest size
    that does (the token budget wins over ``size_px``)."""
    if budget.max_tokens is None or n <= 0:
        return None
    full = default_size(video, budget)
    if n * budget.tokens_per_frame(*full) <= budget.max_tokens:
        return None
    return size_for_tokens(video, budget, budget.max_tokens / n) or (budget.token_px, budget.token_px)
