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
    compared (retrieval refuses to mix them). ``modality``: ``"image"`` (frames are embedded)
    or ``"text"`` (a clip is embedded by its text: subtitles, speech, screen text); ``model_id``:
    the checkpoint, recorded by an index to recreate the embedder for queries (None: the
    default one). Subclass this protocol to inherit the defaults of those two."""

    space: str
    dim: int
    modality: str = "image"
    model_id: str | None = None

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB -> float32 [N, dim], unit rows."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> float32 [N, dim], unit rows."""
        ...


#: the attribute :func:`embedder_factory` sets on a function
EMBEDDER_FACTORY_MARK = "__videopipe_embedder_factory__"


def embedder_factory(fn: Any) -> Any:
    """Declare a function that returns an :class:`Embedder` an embedder factory, so that
    ``--embedder package.module:function`` may call it (an import path given as an embedder
    must name a class with ``embed_texts``, or a function declared with this decorator)."""
    setattr(fn, EMBEDDER_FACTORY_MARK, True)
    return fn


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
    """``name``; ``merges``: whether the output's token sizes sum to the input's (True for
    merging, False for pruning); :meth:`default_budget`: how many tokens it keeps on its own
    when it is an earlier stage of a chain. Subclass this protocol (or
    :class:`videopipe.compressors._base.BaseCompressor`) to inherit the defaults of the last
    two."""

    name: str
    merges: bool = False

    def __call__(
        self, tokens: VisualTokens, budget: int, *, query_embedding: torch.Tensor | None = None
    ) -> VisualTokens: ...

    def default_budget(self, tokens: VisualTokens) -> int:
        """Tokens kept on its own (as a non-final chain stage); by default all of them."""
        return len(tokens)


def __getattr__(name: str) -> Any:
    # The video-LLM protocol lives with the models (``videopipe.models.contract``); the name
    # stays importable from here, as the same object.
    if name == "VideoLLM":
        from videopipe.models.contract import VideoLLM

        return VideoLLM
    raise AttributeError(f"module 'videopipe.protocols' has no attribute {name!r}")
