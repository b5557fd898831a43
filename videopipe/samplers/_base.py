"""The part every sampler shares: config from keyword options, the protocol's call signature,
the no-frames error and the "shorter than the budget: every frame" rule."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from videopipe.protocols import Embedder, Sampler, VideoReader
from videopipe.samplers.selections import all_frames_selection
from videopipe.samplers.sizing import frame_budget
from videopipe.samplers.timeline import check_video
from videopipe.types import Budget, Selection


class BaseSampler(Sampler):
    """Subclasses set ``name`` and ``config_class`` and implement :meth:`select`."""

    name: ClassVar[str] = ""
    uses_query: ClassVar[bool] = False  # the selection depends on the question
    config_class: ClassVar[type] = object

    def __init__(self, **options: Any) -> None:
        self.config = self.config_class(**options)

    def __call__(
        self,
        video: VideoReader,
        budget: Budget,
        *,
        query: str | None = None,
        features: Embedder | None = None,
    ) -> Selection:
        times = check_video(video, self.name)
        if self.takes_every_frame(video, budget, times):
            return all_frames_selection(video, times, self.name)
        return self.select(video, budget, times, query=query, features=features)

    def takes_every_frame(self, video: VideoReader, budget: Budget, times: np.ndarray) -> bool:
        """True when the whole video fits the budget."""
        return frame_budget(video, budget) >= len(times)

    @abstractmethod
    def select(
        self,
        video: VideoReader,
        budget: Budget,
        times: np.ndarray,
        *,
        query: str | None,
        features: Embedder | None,
    ) -> Selection:
        """The method: pick frames of a video longer than the budget (``times``: every
        frame's presentation time)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"
