"""The protocols every stage implements. Plugins are registered in ``videopipe.registry``.

Kept apart from ``types.py`` (data) so that a plugin author reads one short file to know
what to implement: VideoReader, Sampler, Compressor, Embedder, Retriever and the video LLM
(:class:`VideoLLM`; ``videopipe.models.contract`` re-exports it beside the model factory).
The pipeline checks every stage it is given with ``isinstance`` against these, and
:func:`missing_members` names what an object that fails lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from videopipe.errors import InputError, ModelError
from videopipe.model_records import Generation, GenerationOptions, ModelFacts, ModelGeometry

if TYPE_CHECKING:
    import numpy as np
    import torch

    from videopipe.prefix_cache import KVShape, PrefixCache
    from videopipe.text.timeline import TextLine
    from videopipe.types import Budget, Frames, Hit, Selection, VideoInfo, VisualTokens


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
        embedder: Embedder | None = None,
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


@runtime_checkable
class Retriever(Protocol):
    """Finds the clips of a video that match a question (``videopipe.retrieval.search.Retriever``
    over an index folder is one): the pipeline's ``retriever`` with ``retrieve_k``."""

    def search(self, query: str, k: int = 5, *, video: str | Path | None = None) -> list[Hit]:
        """The ``k`` clips most similar to ``query`` (only ``video``'s clips when given), best first."""
        ...


@runtime_checkable
class VideoLLM(Protocol):
    """A video LLM: its own vision tower encodes frames to visual tokens; ``generate`` answers a
    question conditioned on (possibly compressed) tokens.

    Required: ``model_id``, ``token_px`` (pixels per visual-token side, e.g. 28 for Qwen2.5-VL),
    ``min_frames`` (frames per temporal unit; fewer are padded), ``encode`` and ``generate``.
    The rest has a default here; subclass this protocol to inherit them (``generate_stream``:
    the whole answer of ``generate`` as one piece, ``can_sample`` False).

    ``encode`` returns :class:`~videopipe.types.VisualTokens`; a model that needs to know where
    each token sat (to preserve positions after compression) sets their ``layout``
    (:class:`~videopipe.model_records.EncodedLayout`), which every compressor carries through unchanged.
    """

    model_id: str
    token_px: int
    min_frames: int
    #: the adapter family (its ``MODELS`` name, e.g. ``"qwen2_5_vl"``); names embedding spaces
    family: str = "custom"
    #: the model encodes one video's clips at different frame sizes; False: the pipeline decodes
    #: every clip at the smallest clip size
    mixed_resolution: bool = False
    #: :meth:`generate_stream` samples when given a temperature > 0; False: greedy decoding only
    can_sample: bool = False
    #: ``progress(stage, done, total)`` while the model works: ``"encode"`` (frames),
    #: ``"prefill"`` (prompt tokens: 0 before the pass, all after it), ``"generate"`` (new tokens
    #: of at most ``max_new_tokens``); None: silent. The CLI sets a progress bar here.
    progress: Callable[[str, int, int], None] | None = None
    #: the :class:`~videopipe.model_records.Generation` of the last ``generate``/``generate_stream``
    #: that ran to its end (set by the adapter, in the thread that generated); None: the model
    #: does not count
    last_generation: Generation | None = None
    #: ``generate_stream`` takes ``history`` (earlier :class:`~videopipe.model_records.Turn` s,
    #: written through the chat template); False: the pipeline writes earlier turns into the
    #: question's text instead
    can_converse: bool = False
    #: ``generate_stream`` reads the longest stored prefix of its prompt from
    #: :attr:`prefix_cache` and prefills only the rest (the answer is the same); False: the
    #: model prefills every prompt whole and ignores :attr:`prefix_cache`
    reuses_prefix: bool = False
    #: the KV caches of earlier prompts the model may continue from (the server sets one,
    #: ``--kv-cache-mb``); None: every prompt is prefilled whole
    prefix_cache: PrefixCache | None = None

    def encode(self, frames: Frames) -> VisualTokens:
        """Visual tokens of ``frames`` (one clip, one frame size)."""
        ...

    def generate(self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128) -> str:
        """The answer to ``question`` about ``tokens`` (what ``encode`` made, maybe compressed)."""
        ...

    def generate_stream(
        self,
        tokens: VisualTokens,
        question: str,
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        options: GenerationOptions | None = None,
    ) -> Iterator[str]:
        """The answer of :meth:`generate` in pieces, as they are decoded (a server streams them):
        joined, the pieces are the answer text. ``options`` (a
        :class:`~videopipe.model_records.GenerationOptions`; the pipeline passes one) or the
        keywords ``max_new_tokens`` / ``temperature``: temperature 0 decodes greedily, as
        ``generate`` does; above 0 it samples (only where :attr:`can_sample`). Stopping the
        iteration stops the generation.

        Default: the whole answer of :meth:`generate` as one piece, greedy only."""
        opts = options or GenerationOptions(max_new_tokens=max_new_tokens, temperature=temperature)
        if opts.temperature:
            raise InputError(
                f"model {self.model_id} decodes greedily only (can_sample is False); use temperature 0"
            )
        yield self.generate(tokens, question, max_new_tokens=opts.max_new_tokens)

    def encode_clips(self, clips: Sequence[Frames], *, duration_s: float) -> VisualTokens:
        """Tokens of one video's clips (time order; sizes may differ when ``mixed_resolution``)
        answered about in one prompt; ``duration_s`` is the whole video's length.

        Default: one :meth:`encode` per clip, joined with ``VisualTokens.concat`` (which joins
        their layouts with :meth:`EncodedLayout.concat`)."""
        parts = [self.encode(c) for c in clips]
        return parts[0] if len(parts) == 1 else type(parts[0]).concat(parts)

    def decode_size(self, height: int, width: int, num_frames: int, budget: Budget) -> tuple[int, int]:
        """(h, w) to decode a clip of ``num_frames`` frames at, given the (h, w) the pipeline
        chose for it (``budget.frame_size`` of the video, or a sampler's clip size): the size
        :meth:`encode` will encode such frames at, so that the frames are resized once, by the
        decoder, and not again by the model's processor. ``num_frames`` matters where the
        processor's limits apply to a whole clip (Qwen3-VL).

        Default: ``(height, width)`` unchanged."""
        return int(height), int(width)

    def text_embeddings(self, text: str) -> torch.Tensor | None:
        """The model's input embeddings of ``text``'s tokens [L, D], in the space of the visual
        tokens (the pipeline ranks evidence and queries compressors with them). Default: None,
        the model cannot embed text."""
        return None

    def with_text(self, question: str, lines: Sequence[TextLine]) -> str:
        """``question`` with the video's timed text (the lines of the sampled spans) before it,
        written the way this family was trained to read it. Default: Video-MME's subtitle
        prompt with ``[mm:ss]`` times (:func:`videopipe.text.prompt.subtitle_block`)."""
        if not lines:
            return question
        from videopipe.text.prompt import subtitle_block

        return subtitle_block(lines) + question

    def count_text_tokens(self, text: str) -> int:
        """How many prompt tokens ``text`` takes (the text budget is counted with this).
        Default: about four characters per token."""
        return (len(text) + 3) // 4

    @classmethod
    def read_geometry(cls, model_id: str | None = None) -> ModelGeometry:
        """The :class:`~videopipe.model_records.ModelGeometry` of the model this class builds
        for ``model_id``, without its weights (what a ``MODELS`` entry gives a pipeline that
        decodes before, or without, loading). Default: :meth:`read_facts` with no resize rule."""
        return ModelGeometry.of(cls.read_facts(model_id))

    @classmethod
    def read_facts(cls, model_id: str | None = None) -> ModelFacts:
        """The :class:`~videopipe.model_records.ModelFacts` of :meth:`read_geometry`. A class
        registered in ``MODELS`` declares one of the two."""
        raise ModelError(
            f"{cls.__name__} declares neither read_geometry nor read_facts; a MODELS entry gives its "
            "model's geometry without loading it (see videopipe.models.contract.ModelFactory)"
        )

    def facts(self) -> ModelFacts:
        """This model's :class:`ModelFacts` (compared with those a CPU stage read from files)."""
        return ModelFacts.of(self)

    def kv_shape(self) -> KVShape | None:
        """The shape of the language model's KV cache per layer, for a prefix cache kept on
        disk (``videopipe.prefix_store``); None: the model keeps no such cache."""
        return None


def missing_members(obj: object, protocol: type) -> list[str]:
    """The attributes and methods of ``protocol`` that ``obj`` lacks, in declaration order
    (``__call__`` aside: a caller says "is not callable" for that). What the pipeline names
    when a stage object fails ``isinstance(obj, protocol)``."""
    names: list[str] = []
    for cls in reversed(protocol.__mro__):
        if cls is object or cls is Protocol or cls.__name__ in ("Generic", "Protocol"):
            continue
        for name in [*cls.__dict__.get("__annotations__", {}), *cls.__dict__]:
            if name.startswith("_") or name in names:
                continue
            names.append(name)
    return [n for n in names if not hasattr(obj, n)]


def stage_error(what: str, obj: object, protocol: type, hint: str) -> str:
    """``"<what> <obj> has no a, b; <hint>"`` (or "is not callable") for a stage object that
    does not follow ``protocol``."""
    missing = missing_members(obj, protocol)
    callable_needed = "__call__" in protocol.__dict__
    detail = (
        f"has no {', '.join(missing)}"
        if missing
        else "is not callable"
        if callable_needed and not callable(obj)
        else "does not follow it"
    )
    return f"{what} {obj!r} {detail}; {hint}"
