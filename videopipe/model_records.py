"""The records a model hands the rest of videopipe: the core's half of the model contract.

Kept in the core (not in ``videopipe/models/``) because the core's own modules need them:
``visual_tokens.py`` carries an :class:`EncodedLayout`, the pipeline reads a
:class:`ModelGeometry`, the token cache stores layouts, and the ``VideoLLM`` protocol
(``videopipe.protocols``) returns :class:`ModelFacts`. ``videopipe.models.contract``
re-exports every name, so an adapter still reads one file.

* :class:`ModelFacts` -- what the CPU stage (sampling, decoding, the cache key) needs to know
  about a model, without its weights.
* :class:`ModelGeometry` -- what a checkpoint's files say about its tokens, read once: the
  facts and the resize rule (``decode_size``) together.
* :class:`EncodedLayout` -- the written schema of what ``encode`` produces besides the token
  rows: where every token sat in the uncompressed prompt (units of frames, their grids, the
  clips). It travels as ``VisualTokens.layout``, unchanged through every compressor.
* :class:`GenerationOptions` -- how an answer is generated (length, temperature, top-k/p,
  seed), one record for ``generate`` and ``generate_stream``.
* :class:`Generation` -- what one answer cost (prompt and answer tokens, why it stopped).
* :class:`Turn` -- an earlier message of a conversation (``generate_stream``'s ``history``).

Imports nothing from videopipe but ``errors`` (and ``types`` for type hints).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from videopipe.errors import InputError

if TYPE_CHECKING:
    from videopipe.types import Budget

__all__ = [
    "LAYOUT_VERSION",
    "ClipLayout",
    "EncodedLayout",
    "Generation",
    "GenerationOptions",
    "ModelFacts",
    "ModelGeometry",
    "Turn",
    "clips_of_units",
]

#: version of the :class:`EncodedLayout` schema. Bump it whenever a field is added, removed or
#: changes meaning: the token cache keys on it and treats entries of another version as misses.
LAYOUT_VERSION = 2


class HasTokenGeometry(Protocol):
    """What :meth:`ModelFacts.of` reads: a geometry or a model."""

    @property
    def model_id(self) -> str | None: ...
    @property
    def token_px(self) -> int: ...
    @property
    def min_frames(self) -> int: ...
    @property
    def mixed_resolution(self) -> bool: ...


@dataclass(frozen=True)
class ModelFacts:
    """model_id: the id the token cache keys on; token_px: pixels per visual-token side;
    min_frames: frames per temporal unit; mixed_resolution: the model encodes one video's
    clips at different frame sizes (else every clip is decoded at the smallest size)."""

    model_id: str
    token_px: int
    min_frames: int
    mixed_resolution: bool

    @classmethod
    def of(cls, source: HasTokenGeometry) -> ModelFacts:
        """The facts of ``source`` (a :class:`ModelGeometry`, or a model: ``VideoLLM.facts``):
        its attribute of each field's name, as the field's type (numpy ints, ids that are paths)."""
        as_type = {"str": str, "int": int, "bool": bool}
        return cls(**{f.name: as_type[f.type](getattr(source, f.name)) for f in fields(cls)})


@dataclass(frozen=True)
class ModelGeometry:
    """A model's token geometry as its checkpoint's files give it, read once (a factory's
    ``read_geometry``, or a loaded adapter's own): the :class:`ModelFacts` and the resize rule
    (:meth:`decode_size`) come from this one record, so a pipeline that decodes before the
    weights arrive sizes frames exactly as the loaded model does.

    model_id, token_px, min_frames, mixed_resolution: see :class:`ModelFacts`.
    Families with a resize rule subclass it (their processor's limits as fields) and override
    :meth:`decode_size`."""

    model_id: str
    token_px: int
    min_frames: int
    mixed_resolution: bool

    @property
    def facts(self) -> ModelFacts:
        return ModelFacts.of(self)

    @classmethod
    def of(cls, facts: ModelFacts) -> ModelGeometry:
        """The geometry of a model whose frames are encoded at the size the pipeline chose (the
        facts' fields, no resize rule)."""
        return cls(**asdict(facts))

    def decode_size(
        self, height: int, width: int, num_frames: int, budget: Budget | None = None
    ) -> tuple[int, int]:
        """(h, w) the model encodes ``num_frames`` frames chosen at (height, width) at (see
        ``VideoLLM.decode_size``). Default: unchanged."""
        return int(height), int(width)


@dataclass(frozen=True)
class GenerationOptions:
    """How an answer is generated; one record for ``generate`` and ``generate_stream``.

    max_new_tokens: at most this many new tokens (>= 1)
    temperature:    0 decodes greedily; above 0 samples at that temperature
    top_k, top_p:   sampling keeps the k most likely tokens / the smallest set of probability
                    mass top_p (None: no limit)
    seed:           the sampling generator's seed (None: torch's global generator)
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None

    #: the keyword arguments :meth:`from_keywords` reads (``do_sample`` included)
    KEYWORDS: ClassVar[tuple[str, ...]] = ("do_sample", "temperature", "top_k", "top_p", "seed")

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf:
            raise InputError(f"temperature must be a number >= 0 (0: greedy), got {t!r}")
        if (
            isinstance(self.max_new_tokens, bool)
            or not isinstance(self.max_new_tokens, int)
            or self.max_new_tokens < 1
        ):
            raise InputError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"top_k must be >= 1, got {self.top_k}")

    @property
    def samples(self) -> bool:
        """True when the next token is sampled (temperature > 0), False: greedy."""
        return self.temperature > 0

    @classmethod
    def from_keywords(cls, *, max_new_tokens: int = 128, **options: Any) -> GenerationOptions:
        """The options of transformers-style keywords (``do_sample``, ``temperature``, ``top_k``,
        ``top_p``, ``seed``): without ``do_sample`` the answer is greedy whatever the
        temperature; ``do_sample`` without a temperature samples at 1. Unknown keywords are an
        error naming the valid ones."""
        bad = sorted(set(options) - set(cls.KEYWORDS))
        if bad:
            raise InputError(f"unknown generation option(s) {bad}; valid: {', '.join(cls.KEYWORDS)}")
        temperature = float(options.get("temperature", 1.0))
        if temperature <= 0:
            raise InputError(f"temperature must be > 0, got {temperature}")
        return cls(
            max_new_tokens=max_new_tokens,
            temperature=temperature if options.get("do_sample") else 0.0,
            top_k=options.get("top_k"),
            top_p=options.get("top_p"),
            seed=options.get("seed"),
        )


@dataclass(frozen=True)
class Generation:
    """What one answer cost the language model: ``prompt_tokens`` (the spliced prompt: text and
    the visual tokens after compression), ``completion_tokens`` (new tokens, the end-of-turn token
    not counted), ``finish_reason``: ``"stop"`` (the model ended its turn) or ``"length"``
    (``max_new_tokens`` cut it), and ``cached_tokens``: the prompt's leading tokens read from a
    stored KV cache (``VideoLLM.prefix_cache``) instead of prefilled (OpenAI's
    ``prompt_tokens_details.cached_tokens``; the prefill ran over the other tokens)."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    cached_tokens: int = 0


@dataclass(frozen=True)
class Turn:
    """An earlier message of a conversation, before the question: ``role`` ``"system"``,
    ``"user"`` or ``"assistant"``, its ``text``, and ``video`` True on the one message the video
    belongs to (it goes before that message's text; none: before the question)."""

    role: str
    text: str
    video: bool = False


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
    unit_clip_ids:    per unit, the selected clips its frames belong to (``Frames.clip_ids``; a
                      Qwen temporal patch can straddle two clips), what the evidence of an answer
                      is ranked by; empty when the frames carried no clip ids
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
    unit_clip_ids: tuple[tuple[int, ...], ...] = ()
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
        object.__setattr__(self, "unit_clip_ids", tuple(_ints(c) for c in self.unit_clip_ids))
        n = len(self.unit_frame_idx)
        if self.unit_clip_ids and len(self.unit_clip_ids) != n:
            raise ValueError(
                f"EncodedLayout: {len(self.unit_clip_ids)} unit_clip_ids for {n} units; give one per unit (or none)"
            )
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
            # clips are known for the whole only when every part knows them
            unit_clip_ids=tuple(c for p in parts for c in p.unit_clip_ids)
            if all(p.unit_clip_ids for p in parts)
            else (),
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


def clips_of_units(
    clip_ids: Sequence[int] | None, frames_per_unit: int, num_units: int
) -> tuple[tuple[int, ...], ...]:
    """``EncodedLayout.unit_clip_ids`` of ``num_units`` units of ``frames_per_unit`` consecutive
    frames whose clip ids are ``clip_ids`` (the last frame repeats to fill the last unit, as the
    frames do); empty when the frames carry no clip ids."""
    if clip_ids is None:
        return ()
    ids = [int(c) for c in clip_ids]
    ids += ids[-1:] * (num_units * frames_per_unit - len(ids))
    return tuple(
        tuple(sorted(set(ids[u * frames_per_unit : (u + 1) * frames_per_unit]))) for u in range(num_units)
    )
