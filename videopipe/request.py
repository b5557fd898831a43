"""A question about a video, checked once: :func:`check_request` -> :class:`Request`.

The faces (``videopipe ask``, the server's worker, batch) and ``Pipeline.ask`` call it before any
work; the layers below trust the record (the pipeline, the text loaders and the decoders do not
check the path or the question again; ``open_video`` still reports a file that vanished since).
What needs the model (whether it can sample at a temperature) is checked where the model is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from videopipe.errors import InputError, VideoNotFoundError

__all__ = ["Request", "check_question", "check_request", "check_temperature", "check_video"]


@dataclass(frozen=True)
class Request:
    """One checked question about one video.

    video:          the video file (exists, a regular file, readable, not empty)
    question:       the question, stripped, not empty
    max_new_tokens: at most this many answer tokens (None: the pipeline's ``max_new_tokens``)
    temperature:    0 answers greedily; above 0 samples (models that can)
    """

    video: Path
    question: str
    max_new_tokens: int | None = None
    temperature: float = 0.0


def check_question(question: object, video: str) -> str:
    """``question`` stripped, or an InputError naming ``video`` when it is empty."""
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"empty question for {video}: pass a non-empty question text")
    return question.strip()


def check_temperature(temperature: object) -> float:
    """``temperature`` as a float when it is a finite number >= 0, else an InputError."""
    t = temperature
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf:
        raise InputError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
    return float(t)


def check_video(video: str | os.PathLike[str]) -> Path:
    """``video`` as a Path when it is a readable, non-empty regular file; else a one-line error
    that names it and the problem (no such file, a directory, not a regular file, empty, not
    readable)."""
    from videopipe.decode.probe import check_path

    path = check_path(video)
    if not os.access(path, os.R_OK):
        raise VideoNotFoundError(f"{path}: is not readable (permission denied); check its permissions")
    return path


def check_request(
    video: str | os.PathLike[str],
    question: object,
    *,
    max_new_tokens: int | None = None,
    temperature: object = 0.0,
) -> Request:
    """The :class:`Request` of these inputs, or the first problem as one clear error: the path
    (no such file, a directory, not a regular file, empty, not readable), then the question,
    then the options."""
    path = check_video(video)
    text = check_question(question, str(video))
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1
    ):
        raise InputError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}")
    return Request(path, text, max_new_tokens, check_temperature(temperature))
