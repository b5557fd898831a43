"""One span described by the video LLM from its own frames and its own lines: the map step of
``summarize`` and the model titles of ``chapters``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.geometry import fit_frame_size

if TYPE_CHECKING:
    from videopipe.decode.reader import BaseReader
    from videopipe.models.contract import VideoLLM
    from videopipe.text.timeline import TextLine, Timeline

__all__ = ["DESCRIBE_PROMPT", "TITLE_PROMPT", "describe_span", "span_times", "title_spans"]

DESCRIBE_PROMPT = "Describe what happens in this part of the video in one or two sentences."
TITLE_PROMPT = "Give this part of the video a short title of at most eight words. Answer with the title only."


def span_times(start_s: float, end_s: float, n: int) -> list[float]:
    """``n`` times spread evenly inside [start_s, end_s) (the middles of ``n`` equal parts)."""
    step = (end_s - start_s) / n
    return [start_s + (k + 0.5) * step for k in range(n)]


def frame_size(reader: BaseReader, size_px: int, token_px: int) -> tuple[int, int]:
    """(h, w) with the shorter side ``size_px``, both multiples of ``token_px``."""
    return fit_frame_size(reader.info.height, reader.info.width, size_px, token_px)


def chunk_frame_size(reader: BaseReader, model: VideoLLM) -> tuple[int, int]:
    """The size a chunk's frames are described at: shorter side two of ``model``'s token patches."""
    return frame_size(reader, 2 * int(model.token_px), int(model.token_px))


def describe_span(
    model: VideoLLM,
    reader: BaseReader,
    start_s: float,
    end_s: float,
    lines: Sequence[TextLine],
    *,
    prompt: str = DESCRIBE_PROMPT,
    frames: int = 4,
    size_px: int = 224,
    max_new_tokens: int = 96,
) -> str:
    """What ``model`` says about [start_s, end_s) from ``frames`` frames of that span and
    ``lines`` (the caller passes the span's own lines)."""
    n = max(int(model.min_frames), frames)
    n += (-n) % max(1, int(model.min_frames))
    last_t = max(0.0, float(reader.info.duration_s) - 1e-3)  # a span may end with the video
    times = [min(t, last_t) for t in span_times(start_s, end_s, n)]
    picture = reader.frames_at_times(times, size=frame_size(reader, size_px, int(model.token_px)))
    tokens = model.encode(picture)
    return model.generate(tokens, model.with_text(prompt, list(lines)), max_new_tokens=max_new_tokens).strip()


def title_spans(
    model: VideoLLM, video: str | Path, spans: Sequence[tuple[float, float]], timeline: Timeline
) -> list[str]:
    """A title per span from ``model`` (its frames and lines); "Chapter k" when it says nothing."""
    from videopipe.chapters.titles import shorten_title
    from videopipe.decode import open_video

    out = []
    with open_video(video) as reader:
        for k, (a, b) in enumerate(spans, 1):
            said = describe_span(
                model, reader, a, b, timeline.between(a, b), prompt=TITLE_PROMPT, max_new_tokens=24
            )
            out.append(shorten_title(said.splitlines()[0] if said.strip() else "") or f"Chapter {k}")
    return out
