"""The part every sampler shares: config from keyword options (:class:`videopipe.plugin.BasePlugin`),
the protocol's call signature, the no-frames error and the "shorter than the budget: every
frame" rule. A sampler implements :meth:`BaseSampler.select` over one :class:`SamplerInput`."""

from __future__ import annotations

import warnings
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from videopipe.errors import ConfigError
from videopipe.plugin import BasePlugin, ConfigT
from videopipe.protocols import Embedder, Sampler, VideoReader
from videopipe.samplers.frame_times import check_video
from videopipe.samplers.selections import all_frames_selection
from videopipe.samplers.sizing import frame_budget
from videopipe.types import Budget, Selection

__all__ = ["BaseSampler", "SamplerInput"]


@dataclass(frozen=True)
class SamplerInput:
    """What a sampler picks from: the video, the budget, every frame's presentation time
    (``times``, s), and the question and image-text embedder of query-aware samplers."""

    video: VideoReader
    budget: Budget
    times: np.ndarray
    query: str | None = None
    embedder: Embedder | None = None


class BaseSampler(BasePlugin[ConfigT], Sampler):
    """Subclasses set ``name``, name their config as the type parameter
    (``BaseSampler[UniformConfig]``) and implement :meth:`select`."""

    name: ClassVar[str] = ""
    uses_query: ClassVar[bool] = False  # the selection depends on the question

    def __call__(
        self,
        video: VideoReader,
        budget: Budget,
        *,
        query: str | None = None,
        embedder: Embedder | None = None,
        features: Embedder | None = None,
    ) -> Selection:
        """Pick frames of ``video`` within ``budget``. ``embedder``: the image-text embedder a
        query-aware sampler scores frames with (``features=`` is its deprecated old name)."""
        if features is not None:
            if embedder is not None:
                raise ConfigError(
                    f"{self.name}: pass the embedder once, as embedder= (features= is its old name)"
                )
            warnings.warn(
                "the sampler keyword features= is deprecated; pass embedder=",
                DeprecationWarning,
                stacklevel=2,
            )
            embedder = features
        times = check_video(video, self.name)
        if self.takes_every_frame(video, budget, times):
            return all_frames_selection(video, times, self.name)
        return self.select(SamplerInput(video, budget, times, query=query, embedder=embedder))

    def takes_every_frame(self, video: VideoReader, budget: Budget, times: np.ndarray) -> bool:
        """True when the whole video fits the budget."""
        return frame_budget(video, budget) >= len(times)

    @abstractmethod
    def select(self, job: SamplerInput) -> Selection:
        """The method: pick frames of a video longer than the budget."""
