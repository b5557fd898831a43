"""Clip captions written by the configured video LLM (``videopipe index --captions MODEL``).

Goldfish, VideoRAG and NVIDIA's video search blueprint describe every clip with the video LLM
and index the descriptions beside the transcript, so that a query about something that is
seen but never said ("the man in the red jacket") finds its clip through a text embedder.
:class:`LLMCaptioner` does that: a clip's caption is its *description* as ``summarize``
describes a chunk (:class:`~videopipe.summarize.describer.SpanDescriber`: ``frames_per_clip``
frames spread over the clip at ``size_px``, encoded by the model's own vision tower, and the
clip's own lines, asked :data:`~videopipe.summarize.describe.DESCRIBE_PROMPT`), read from the
description cache when ``summarize`` (or an earlier index run) described the same span of the
same video with the same model and options: one description of a clip, not two. The caption
joins the clip's text (source ``caption``).

It costs one short generation per clip not yet described (a 7B model on a GPU: about a second
per clip, so an hour in 20 s windows with 5 s overlap is ~4 minutes); it is opt-in for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.retrieval.segment import Span
from videopipe.summarize.describe import DESCRIBE_PROMPT
from videopipe.summarize.describer import DescribeRecipe, SpanDescriber, description_store

if TYPE_CHECKING:
    from videopipe.text.timeline import TextLine

__all__ = ["LLMCaptioner"]


class LLMCaptioner:
    """A :class:`~videopipe.retrieval.encode.LineCaptioner` backed by a video LLM.

    model: a model spec (hub id, local checkpoint or ``MODELS`` name) or a loaded
    :class:`~videopipe.models.contract.VideoLLM`; it loads on the first call. The defaults are
    ``summarize``'s, so that its chunk descriptions are reused for clips with the same span.
    ``cache``/``cache_dir``: the description cache (None: the default cache folder).
    ``made``/``reused``: captions generated and read from the cache so far."""

    def __init__(
        self,
        model: str | Any,
        *,
        frames_per_clip: int = 4,
        size_px: int = 224,
        max_new_tokens: int = 96,
        prompt: str = DESCRIBE_PROMPT,
        device: str = "auto",
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        from videopipe.validate import positive

        positive("frames_per_clip", frames_per_clip)
        positive("size_px", size_px)
        positive("max_new_tokens", max_new_tokens)
        self._spec = model
        self._model = None if isinstance(model, str) else model
        self.recipe = DescribeRecipe(prompt, frames_per_clip, size_px, max_new_tokens)
        self.device = device
        self.cache = cache
        self.cache_dir = cache_dir
        self.made = 0
        self.reused = 0
        model_id = model if isinstance(model, str) else model.model_id
        #: recorded by the index: another model, frame count or prompt re-embeds
        self.name = f"llm:{model_id}:f{frames_per_clip}:s{size_px}:t{max_new_tokens}"

    @property
    def model(self) -> Any:
        if self._model is None:
            from videopipe.models import load_model

            self._model = load_model(self._spec, device=self.device)
        return self._model

    def __call__(self, video: Path, spans: list[Span]) -> Sequence[str]:
        """Captions from each clip's frames alone (no lines)."""
        return self.caption_lines(video, spans, [() for _ in spans])

    def caption_lines(
        self, video: Path, spans: list[Span], lines: Sequence[Sequence[TextLine]]
    ) -> Sequence[str]:
        """A caption per clip from its frames and its own ``lines``."""
        from videopipe.decode import open_video

        describer = SpanDescriber(
            self.model, self.recipe, store=description_store(self.cache, self.cache_dir)
        )
        with open_video(video) as reader:
            captions = [
                " ".join(describer.describe(Path(video), reader, s.start_s, s.end_s, own).split())
                for s, own in zip(spans, lines, strict=True)
            ]
        self.made += describer.made
        self.reused += describer.reused
        return captions
