"""A question about a video, checked once: :func:`check_request` -> :class:`Request`.

The faces (``videopipe ask``, the server's worker, ``batch``'s driver) and ``Pipeline.ask`` call it
before any work; the layers below trust the record (the pipeline, the text loaders and the
decoders do not check the path or the question again; ``open_video`` still reports a file that
vanished since). The long-video jobs (``chapters``, ``locate``, ``summarize``: their functions and
their commands) check their video with :func:`check_video`, the same check with the same one-line
messages. What needs the model (whether it can sample at a temperature) is checked where the
model is.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from videopipe.errors import InputError, VideoNotFoundError
from videopipe.model_records import Turn

__all__ = [
    "ROLES",
    "Request",
    "as_request",
    "check_history",
    "check_question",
    "check_request",
    "check_temperature",
    "check_video",
]

#: the roles of a conversation's earlier turns
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Request:
    """One checked question about one video.

    video:          the video file (exists, a regular file, readable, not empty)
    question:       the question, stripped, not empty
    max_new_tokens: at most this many answer tokens (None: the pipeline's ``max_new_tokens``)
    temperature:    0 answers greedily; above 0 samples (models that can)
    history:        a conversation's earlier turns (:class:`~videopipe.model_records.Turn`:
                    system, user, assistant), oldest first; empty for a single question
    """

    video: Path
    question: str
    max_new_tokens: int | None = None
    temperature: float = 0.0
    history: tuple[Turn, ...] = ()


def check_question(question: object, video: str) -> str:
    """``question`` stripped, or an InputError naming ``video`` when it is empty."""
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"empty question for {video}: pass a non-empty question text")
    return question.strip()


def check_history(history: Iterable[object]) -> tuple[Turn, ...]:
    """``history`` as a tuple of :class:`~videopipe.model_records.Turn` when every item is one,
    with a role of :data:`ROLES` and text; else an InputError naming the first bad turn."""
    turns = tuple(history)
    for i, t in enumerate(turns):
        if not isinstance(t, Turn):
            raise InputError(f"history[{i}] must be a videopipe Turn(role, text), got {type(t).__name__}")
        if t.role not in ROLES:
            raise InputError(f"history[{i}]: role {t.role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(t.text, str):
            raise InputError(f"history[{i}]: text must be a string, got {type(t.text).__name__}")
    return turns


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
    history: Iterable[object] = (),
) -> Request:
    """The :class:`Request` of these inputs, or the first problem as one clear error: the path
    (no such file, a directory, not a regular file, empty, not readable), then the question,
    then the options, then the history (:func:`check_history`)."""
    path = check_video(video)
    text = check_question(question, str(video))
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1
    ):
        raise InputError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}")
    return Request(path, text, max_new_tokens, check_temperature(temperature), check_history(history))


def as_request(
    question: str | Request,
    video: Path,
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    history: Sequence[Turn] | None = None,
) -> Request:
    """The request ``Pipeline.answer`` answers: ``question`` when it is a :class:`Request` (then
    the options must not be given too), else a trusted one of ``video``, the question's text and
    the options (``history``: deprecated there, a Request carries it)."""
    if isinstance(question, Request):
        if max_new_tokens is not None or temperature != 0.0 or history is not None:
            raise TypeError(
                "Pipeline.answer(prepared, request): the request carries max_new_tokens, temperature "
                "and history; do not pass them as keywords too"
            )
        return question
    if history is not None:
        warnings.warn(
            "Pipeline.answer(history=) is deprecated: pass a Request with its history "
            "(videopipe.request.check_request(video, question, history=turns))",
            DeprecationWarning,
            stacklevel=3,
        )
    return Request(video, question.strip(), max_new_tokens, temperature, tuple(history or ()))
