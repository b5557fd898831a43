"""The protocols every stage implements. Plugins are registered in ``videopipe.registry``.

Kept apart from ``types.py`` (data) so that a plugin author reads one short file to know
what to implement. The video-LLM protocol is :class:`videopipe.models.contract.VideoLLM`
(``videopipe.protocols.VideoLLM`` is the same object).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from videopipe.types import Budget, Frames, Selection, VideoInfo, VisualTokens


@runtime_checkable
class VideoReader(Protocol):
    """An open video. Implementations live in ``videopipe.decode``; get one with
    ``videopipe.open_video``."""

    @property
    def info(self) -> VideoInfo: ...

    @property
    def pts_s(self) -> np.ndarray:
        """Presentation time (s from the first frame) of every frame, float64 [num_frames]."""
        ...

    def frames_at(self, indices: Sequence[int], *, size: int | tuple[int, int] | None = None) -> Frames: ...

    def frames_at_times(
        self, times_s: Sequence[float], *, size: int | tuple[int, int] | None = None
    ) -> Frames: ...

    def keyframe_times(self) -> list[float]: ...

    def packet_sizes(self) -> np.ndarray | None:
        """Compressed packet size (bytes) of every frame, int64 [num_frames] in presentation
        order, without decoding; None when the reader cannot tell (then the samplers add no
        packet-spike candidates)."""
        ...

    def iter_frames(
        self, *, every: int = 1, size: int | tuple[int, int] | None = None
    ) -> Iterator[Frames]: ...

    def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps images and texts into one vector space (L2-normalised rows).

    ``space`` names the space (model id + version); vectors of different spaces are never
    compared (retrieval refuses to mix them)."""

    space: str
    dim: int

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB -> float32 [N, dim], unit rows."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> float32 [N, dim], unit rows."""
        ...


@runtime_checkable
class Sampler(Protocol):
    """``name``; ``uses_query``: whether the selection depends on the question (then it is not
    cached or shared across questions). :class:`videopipe.samplers._base.BaseSampler` gives
    ``uses_query = False``."""

    name: str
    uses_query: bool

    def __call__(
        self,
        video: VideoReader,
        budget: Budget,
        *,
        query: str | None = None,
        features: Embedder | None = None,
    ) -> Selection: ...


@runtime_checkable
class Compressor(Protocol):
    name: str

    def __call__(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None = None
    ) -> VisualTokens: ...


def __getattr__(name: str) -> Any:
    # The video-LLM protocol lives with the models (``videopipe.models.contract``); the name
    # stays importable from here, as the same object.
    if name == "VideoLLM":
        from videopipe.models.contract import VideoLLM

        return VideoLLM
    raise AttributeError(f"module 'videopipe.protocols' has no attribute {name!r}")
