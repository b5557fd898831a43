"""The model contract: everything the pipeline, the token cache and the compressors may rely on
in a video LLM, and all an adapter has to implement. A leaf: it imports nothing from
``videopipe.models`` (only ``videopipe.errors`` and, for type hints, ``videopipe.types``), so an
adapter written outside videopipe depends on this file alone.

* :class:`ModelFacts` -- what the CPU stage (sampling, decoding, the cache key) needs to know
  about a model, without its weights.
* :class:`EncodedLayout` -- the written schema of what ``encode`` produces besides the token
  rows: where every token sat in the uncompressed prompt (units of frames, their grids, the
  clips). It travels as ``VisualTokens.layout``, unchanged through every compressor, and is
  what an adapter's ``generate`` reads to rebuild the uncompressed prompt and give each kept
  token its original position.
* :class:`VideoLLM` -- the one protocol a model implements. Optional abilities have a default
  here (subclass the protocol to inherit them), so callers never probe with ``getattr``.
* :class:`ModelFactory` -- what a ``MODELS`` registry entry is: a callable that builds the
  model, plus ``read_facts`` for pipelines that decode without loading it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from videopipe.errors import InputError

if TYPE_CHECKING:
    import torch

    from videopipe.text.timeline import TextLine
    from videopipe.types import Budget, Frames, VisualTokens

__all__ = [
    "Generation",
    "Turn",
    "LAYOUT_VERSION",
    "ClipLayout",
    "EncodedLayout",
    "ModelFacts",
    "ModelFactory",
    "VideoLLM",
    "model_facts",
]

#: version of the :class:`EncodedLayout` schema. Bump it whenever a field is added, removed or
#: changes meaning: the token cache keys on it and treats entries of another version as misses.
LAYOUT_VERSION = 1


@dataclass(frozen=True)
class ModelFacts:
    """model_id: the id the token cache keys on; token_px: pixels per visual-token side;
    min_frames: frames per temporal unit; mixed_resolution: the model encodes one video's
    clips at different frame sizes (else every clip is decoded at the smallest size)."""

    model_id: str
    token_px: int
    min_frames: int
    mixed_resolution: bool


def _ints(xs: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(x) for x in xs)


def _floats(xs: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(x) for x in xs)


@dataclass(frozen=True)
class ClipLayout:
    """One clip of an encode (clips are encoded as separate videos, in time order).

    frame_size_px:   (height, width) of the clip's frames as given to ``encode``
    num_tokens:      visual tokens the clip made (uncompressed)
    grid_thw:        Qwen: (temporal patches, patch rows, patch cols) of the clip's vision grid
    second_per_grid: Qwen2.5-VL: seconds per temporal patch (its M-RoPE time scale)
    """

    frame_size_px: tuple[int, int]
    num_tokens: int
    grid_thw: tuple[int, int, int] | None = None
    second_per_grid: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_size_px", _ints(self.frame_size_px))
        object.__setattr__(self, "num_tokens", int(self.num_tokens))
        if self.grid_thw is not None:
            object.__setattr__(self, "grid_thw", _ints(self.grid_thw))
        if self.second_per_grid is not None:
            object.__setattr__(self, "second_per_grid", float(self.second_per_grid))


@dataclass(frozen=True)
class EncodedLayout:
    """Where the tokens of one ``encode`` call sit in the uncompressed prompt.

    A *unit* is what shares one token grid: a frame (frame models) or a temporal patch of
    ``min_frames`` frames (Qwen). Tokens are numbered unit by unit, row-major inside a unit's
    grid, so a token's original slot follows from its (frame_idx, row, col) and this layout.

    family, model_id: the adapter and checkpoint that encoded (the answering model checks them)
    unit_frame_idx:   per unit, the frame number its tokens carry (the first frame of a patch)
    unit_time_s:      per unit, its time (Qwen: the mean time of the patch's frames)
    unit_grid_hw:     per unit, its token grid (rows, cols)
    frame_idx:        every real (not padded) frame given to ``encode``, in time order
    frame_time_s:     their presentation times
    clips:            one :class:`ClipLayout` per clip, in time order
    padded_frames:    frames repeated to fill the last temporal patch of clips
    duration_s:       the whole video's length (SmolVLM2 states it in the prompt)
    """

    family: str
    model_id: str
    unit_frame_idx: tuple[int, ...]
    unit_time_s: tuple[float, ...]
    unit_grid_hw: tuple[tuple[int, int], ...]
    frame_idx: tuple[int, ...]
    frame_time_s: tuple[float, ...]
    clips: tuple[ClipLayout, ...]
    padded_frames: int = 0
    duration_s: float | None = None
    version: ClassVar[int] = LAYOUT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_frame_idx", _ints(self.unit_frame_idx))
        object.__setattr__(self, "unit_time_s", _floats(self.unit_time_s))
        object.__setattr__(self, "unit_grid_hw", tuple(_ints(hw) for hw in self.unit_grid_hw))
        object.__setattr__(self, "frame_idx", _ints(self.frame_idx))
        object.__setattr__(self, "frame_time_s", _floats(self.frame_time_s))
        object.__setattr__(self, "clips", tuple(self.clips))
        object.__setattr__(self, "padded_frames", int(self.padded_frames))
        if self.duration_s is not None:
            object.__setattr__(self, "duration_s", float(self.duration_s))
        n = len(self.unit_frame_idx)
        if len(self.unit_time_s) != n or len(self.unit_grid_hw) != n:
            raise ValueError(
                f"EncodedLayout: {n} unit_frame_idx, {len(self.unit_time_s)} unit_time_s and "
                f"{len(self.unit_grid_hw)} unit_grid_hw; give one of each per unit"
            )
        if any(len(hw) != 2 for hw in self.unit_grid_hw):
            raise ValueError("EncodedLayout.unit_grid_hw: give (rows, cols) per unit")
        if len(self.frame_time_s) != len(self.frame_idx):
            raise ValueError(
                f"EncodedLayout: {len(self.frame_idx)} frame_idx but {len(self.frame_time_s)} frame_time_s"
            )
        if any(not isinstance(c, ClipLayout) for c in self.clips):
            raise ValueError("EncodedLayout.clips must be ClipLayout objects")
        if sum(c.num_tokens for c in self.clips) != self.num_tokens:
            raise ValueError(
                f"EncodedLayout: the clips' num_tokens add up to {sum(c.num_tokens for c in self.clips)}, "
                f"the unit grids to {self.num_tokens}"
            )

    @property
    def num_tokens(self) -> int:
        """Visual tokens of the uncompressed prompt (the sum of the unit grids)."""
        return sum(h * w for h, w in self.unit_grid_hw)

    @property
    def num_frames(self) -> int:
        """Real frames encoded (padding excluded)."""
        return len(self.frame_idx)

    @classmethod
    def concat(cls, parts: Sequence[EncodedLayout]) -> EncodedLayout:
        """The layout of several encodes (clips in time order) answered in one prompt: per-unit,
        per-frame and per-clip entries follow each other, padding adds up."""
        if not parts:
            raise ValueError("EncodedLayout.concat needs at least one part")
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        others = {(p.family, p.model_id) for p in parts} - {(first.family, first.model_id)}
        if others:
            raise InputError(
                f"cannot join tokens of {sorted(others)} with tokens of {(first.family, first.model_id)}; "
                "encode every clip with the model that answers"
            )
        units = [u for p in parts for u in p.unit_frame_idx]
        if len(set(units)) != len(units):
            raise InputError("the clips given to encode() share frames; give each frame once")
        durations = [p.duration_s for p in parts if p.duration_s is not None]
        return cls(
            family=first.family,
            model_id=first.model_id,
            unit_frame_idx=tuple(units),
            unit_time_s=tuple(t for p in parts for t in p.unit_time_s),
            unit_grid_hw=tuple(hw for p in parts for hw in p.unit_grid_hw),
            frame_idx=tuple(i for p in parts for i in p.frame_idx),
            frame_time_s=tuple(t for p in parts for t in p.frame_time_s),
            clips=tuple(c for p in parts for c in p.clips),
            padded_frames=sum(p.padded_frames for p in parts),
            duration_s=max(durations) if durations else None,
        )

    # -- storage (the token cache) ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings) plus ``"version"``; :meth:`from_dict` reads it."""
        return {"version": self.version, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncodedLayout:
        """The layout :meth:`to_dict` wrote; a ``ValueError`` for another schema version."""
        got = data.get("version")
        if got != cls.version:
            raise ValueError(
                f"an EncodedLayout of version {got!r}; this videopipe reads version {cls.version}"
            )
        fields = {k: v for k, v in data.items() if k != "version"}
        fields["clips"] = tuple(ClipLayout(**c) for c in fields["clips"])
        return cls(**fields)


@dataclass(frozen=True)
class Generation:
    """What one answer cost the language model: ``prompt_tokens`` (the spliced prompt: text and
    the visual tokens after compression), ``completion_tokens`` (new tokens, the end-of-turn token
    not counted) and ``finish_reason``: ``"stop"`` (the model ended its turn) or ``"length"``
    (``max_new_tokens`` cut it)."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Turn:
    """An earlier message of a conversation, before the question: ``role`` ``"system"``,
    ``"user"`` or ``"assistant"``, its ``text``, and ``video`` True on the one message the video
    belongs to (it goes before that message's text; none: before the question)."""

    role: str
    text: str
    video: bool = False


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
    (:class:`EncodedLayout`), which every compressor carries through unchanged.
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
    #: the :class:`Generation` of the last ``generate``/``generate_stream`` that ran to its end
    #: (set by the adapter, in the thread that generated); None: the model does not count
    last_generation: Generation | None = None
    #: ``generate_stream`` takes ``history`` (earlier :class:`Turn` s, written through the chat
    #: template); False: the pipeline writes earlier turns into the question's text instead
    can_converse: bool = False

    def encode(self, frames: Frames) -> VisualTokens:
        """Visual tokens of ``frames`` (one clip, one frame size)."""
        ...

    def generate(self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128) -> str:
        """The answer to ``question`` about ``tokens`` (what ``encode`` made, maybe compressed)."""
        ...

    def generate_stream(
        self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128, temperature: float = 0.0
    ) -> Iterator[str]:
        """The answer of :meth:`generate` in pieces, as they are decoded (a server streams them):
        joined, the pieces are the answer text. ``temperature`` 0 decodes greedily, as
        ``generate`` does; above 0 it samples (only where :attr:`can_sample`). Stopping the
        iteration stops the generation.

        Default: the whole answer of :meth:`generate` as one piece, greedy only."""
        if temperature:
            raise InputError(
                f"model {self.model_id} decodes greedily only (can_sample is False); use temperature 0"
            )
        yield self.generate(tokens, question, max_new_tokens=max_new_tokens)

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

    def facts(self) -> ModelFacts:
        """This model's :class:`ModelFacts` (compared with those a CPU stage read from files)."""
        return ModelFacts(
            model_id=str(self.model_id),
            token_px=int(self.token_px),
            min_frames=int(self.min_frames),
            mixed_resolution=bool(self.mixed_resolution),
        )


def model_facts(model: VideoLLM) -> ModelFacts:
    """The facts of a loaded model (``model.facts()``)."""
    return model.facts()


class ModelFactory(Protocol):
    """What a ``MODELS`` registry entry is (an adapter class, typically).

    ``factory(model_id, device=..., dtype=..., frames_per_batch=...)`` builds the model:
    ``model_id`` None means the entry's default; ``load_model`` always passes ``device`` and
    ``dtype`` (``"auto"``, ``"cpu"``, ``"cuda:N"``; ``"auto"``, ``"float32"``, ...) and
    ``frames_per_batch`` (frames per vision-tower batch), which a model may ignore but must
    accept. The model spec ``"NAME"`` or ``"NAME:ID"`` (``PipelineConfig.model``, ``--model``)
    creates entry NAME with model_id ID. ``read_facts(model_id)`` gives the built model's
    :class:`ModelFacts` without building it (no weights), for pipelines that sample and decode
    without the model. ``model_types``: the transformers ``model_type`` values whose checkpoints
    it loads (what ``load_model(path)`` picks the entry by); empty for an entry that loads no
    transformers checkpoint."""

    model_types: tuple[str, ...]

    def __call__(self, model_id: str | None = None, **options: Any) -> VideoLLM: ...

    def read_facts(self, model_id: str | None = None) -> ModelFacts: ...
