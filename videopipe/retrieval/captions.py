"""Clip captions written by the configured video LLM (``videopipe index --captions MODEL``).

Goldfish, VideoRAG and NVIDIA's video search blueprint describe every clip with the video LLM
and index the descriptions beside the transcript, so that a query about something that is
seen but never said ("the man in the red jacket") finds its clip through a text embedder.
:class:`LLMCaptioner` does that: for each clip it decodes ``frames_per_clip`` frames spread
over the clip at ``size_px``, encodes them with the model's own vision tower and asks
:data:`CAPTION_PROMPT`. The caption joins the clip's text (source ``caption``).

It costs one short generation per clip (a 7B model on a GPU: about a second per clip, so an
hour in 20 s windows with 5 s overlap is ~4 minutes); it is opt-in for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videopipe.retrieval.segment import Span

__all__ = ["CAPTION_PROMPT", "LLMCaptioner"]

CAPTION_PROMPT = "Describe what is shown in this clip in one sentence."


class LLMCaptioner:
    """A :class:`~videopipe.retrieval.encode.NamedCaptioner` backed by a video LLM.

    model: a model spec (hub id, local checkpoint or ``MODELS`` name) or a loaded
    :class:`~videopipe.models.contract.VideoLLM`; it loads on the first call."""

    def __init__(
        self,
        model: str | Any,
        *,
        frames_per_clip: int = 4,
        size_px: int = 336,
        max_new_tokens: int = 40,
        prompt: str = CAPTION_PROMPT,
        device: str = "auto",
    ) -> None:
        from videopipe.validate import positive

        positive("frames_per_clip", frames_per_clip)
        positive("size_px", size_px)
        positive("max_new_tokens", max_new_tokens)
        self._spec = model
        self._model = None if isinstance(model, str) else model
        self.frames_per_clip = frames_per_clip
        self.size_px = size_px
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.device = device
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
        from videopipe.decode import open_video
        from videopipe.retrieval.encode import clip_frame_times

        model = self.model
        n = max(self.frames_per_clip, int(model.min_frames))
        captions = []
        with open_video(video) as reader:
            last_t = max(0.0, reader.info.duration_s - 1e-3)
            for span in spans:
                times = sorted({min(t, last_t) for t in clip_frame_times(span, n)})
                while len(times) < n:  # a clip shorter than n frames: repeat its last one
                    times.append(times[-1])
                frames = reader.frames_at_times(times, size=self._size(model))
                tokens = model.encode(frames)
                text = model.generate(tokens, self.prompt, max_new_tokens=self.max_new_tokens)
                captions.append(" ".join(str(text).split()))
        return captions

    def _size(self, model: Any) -> int:
        p = int(model.token_px)
        return max(p, round(self.size_px / p) * p)
