"""``summarize(video, model=...)``: the one function behind ``videopipe summarize``,
``Pipeline.summarize`` and the server (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.errors import ConfigError
from videopipe.summarize.chunks import plan_chunks
from videopipe.summarize.describe import DESCRIBE_PROMPT, chunk_frame_size, span_times
from videopipe.summarize.describer import DescribeRecipe, SpanDescriber, description_store
from videopipe.summarize.reduce import reduce_descriptions
from videopipe.summarize.types import Described, Summary

if TYPE_CHECKING:
    from videopipe.models.contract import VideoLLM
    from videopipe.text.timeline import Timeline
    from videopipe.visual_tokens import VisualTokens

__all__ = ["ALIGN_MODES", "TEMPLATE_TOKENS", "summarize"]

ALIGN_MODES = ("chapters", "cuts", "none")
#: what a reduce prompt takes beside its text and its frame's visual tokens (the chat template's
#: system line and role markers, frame labels): an allowance kept free in ``context_tokens``
TEMPLATE_TOKENS = 64


def summarize(
    video: str | Path,
    *,
    model: VideoLLM,
    timeline: Timeline | None = None,
    text: str | None = None,
    asr_model: str | None = None,
    chunk_s: float = 30.0,
    align: str = "cuts",
    frames: int = 4,
    size_px: int = 224,
    context_tokens: int = 4096,
    max_new_tokens: int = 96,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Summarise ``video`` with ``model``: chunks of at most ``chunk_s`` seconds aligned to
    ``align`` (``chapters``, scene ``cuts`` or ``none``), each described from ``frames`` frames
    and its own lines (cached), then reduced within ``context_tokens`` (every reduce prompt with
    its frame, its template and ``max_new_tokens`` new tokens fits). ``progress(done,
    total)`` is called after each chunk."""
    from videopipe.decode import open_video
    from videopipe.decode.probe import probe
    from videopipe.request import check_video

    if align not in ALIGN_MODES:
        raise ConfigError(f"--align {align!r} is not one of {', '.join(ALIGN_MODES)}")
    if frames < 1:
        raise ConfigError(f"--frames must be >= 1, got {frames}")
    path = check_video(video)
    duration = float(probe(path).duration_s)
    from videopipe.chapters.job import job_timeline

    timeline, notes = job_timeline(
        path, timeline, text=text, asr_model=asr_model, cache=cache, cache_dir=cache_dir
    )
    chunks = plan_chunks(duration, _boundaries(path, align, timeline), chunk_s)
    describer = SpanDescriber(
        model,
        DescribeRecipe(DESCRIBE_PROMPT, frames, size_px, max_new_tokens),
        store=description_store(cache, cache_dir),
    )
    described = []
    with open_video(path) as reader:
        for k, (a, b) in enumerate(chunks):
            described.append(Described(a, b, describer.describe(path, reader, a, b, timeline.between(a, b))))
            if progress is not None:
                progress(k + 1, len(chunks))

        def frame_of(a: float, b: float) -> VisualTokens:
            # the reduce prompts carry the descriptions; one frame of the span keeps the call a video call
            one = reader.frames_at_times(
                span_times(a, b, max(1, int(model.min_frames))), size=chunk_frame_size(reader, model)
            )
            return model.encode(one)

        def generate(prompt: str, a: float, b: float) -> str:
            return model.generate(frame_of(a, b), prompt, max_new_tokens=max_new_tokens).strip()

        text_out, sections, levels = reduce_descriptions(
            described,
            generate,
            model.count_text_tokens,
            context_tokens=context_tokens,
            max_new_tokens=max_new_tokens,
            reserved_tokens=len(frame_of(*chunks[0])) + TEMPLATE_TOKENS,
        )
    return Summary(str(path), text_out, sections, tuple(described), levels, describer.reused, tuple(notes))


def _boundaries(path: Path, align: str, timeline: Timeline) -> list[float]:
    if align == "none":
        return []
    if align == "cuts":
        from videopipe.chapters.job import scene_cut_times

        return scene_cut_times(path)
    from videopipe.chapters.job import find_chapters

    return find_chapters(path, timeline=timeline).boundaries
