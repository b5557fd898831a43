"""The protocols every stage implements. Plugins are registered in ``videopipe.registry``.

Kept apart from ``types.py`` (data) so that a plugin author reads one short file to know
what to implement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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

    def frames_at(self, indices: Sequence[int], *, size: int | tuple[int, int] | None = None) -> Frames: ...

    def frames_at_times(
        self, times_s: Sequence[float], *, size: int | tuple[int, int] | None = None
    ) -> Frames: ...

    def keyframe_times(self) -> list[float]: ...

    def packet_sizes(self) -> np.ndarray | None:
        """Compressed packet size (bytes) of every frame, int64 [num_frames] in presentation
        order, without decoding; None when the reader cannot tell. Samplers treat it as
        optional (they call it through ``getattr``), so readers written before it still work."""
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
    name: str

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


@runtime_checkable
class VideoLLM(Protocol):
    """A video-LLM adapter (``videopipe.models``): the model's own vision tower encodes frames
    to visual tokens; ``generate`` answers a question conditioned on (possibly compressed)
    tokens.

    ``token_px``: pixels per visual-token side (e.g. 28 for Qwen2.5-VL); ``min_frames``: the
    fewest frames ``encode`` accepts."""

    model_id: str
    token_px: int
    min_frames: int

    def encode(self, frames: Frames) -> VisualTokens: ...

    def generate(self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128) -> str: ...
