"""What the four transformers families share: :class:`TransformersVideoLLM`, the base class of
their adapters, an implementation of :class:`~videopipe.models.contract.VideoLLM`.

An adapter wraps one loaded transformers model + processor:

* :meth:`TransformersVideoLLM.encode` runs the model's own vision tower and projector/merger
  on frames and returns :class:`~videopipe.types.VisualTokens` (one row per LLM visual token,
  with its frame, time and (row, col) grid position) whose ``layout``
  (:class:`~videopipe.models.contract.EncodedLayout`) records where each token sat;
* :meth:`TransformersVideoLLM.generate` builds the family's own prompt for the *uncompressed*
  tokens from that layout (the exact text the family's processor would build), drops the
  placeholder of every visual token the compressor removed, splices the kept tokens into
  ``inputs_embeds`` and gives every kept token the position id it had in the uncompressed
  prompt (Positional Preservation; for Qwen's 3-D M-RoPE its original (t, h, w)); then it
  decodes greedily (or samples) with a KV cache.

The jobs are split by module: this one holds loading, the geometry (one
:class:`~videopipe.models.contract.ModelGeometry` read from config + processor, serving
``facts()`` and ``decode_size()``), the budget and ``encode``; the splice is
:class:`~videopipe.models.splice.SpliceMixin` and generation
:class:`~videopipe.models.generation.GenerationMixin`, both mixed in here.

The uncompressed prompt is identical, token for token, to the one transformers' processor
builds for the same frames, and the position ids come from the model's own
``get_rope_index`` (Qwen) or ``arange`` (1-D RoPE families), so with no compression the
logits equal transformers' native path (``tests/models/test_parity.py``).

Depends on ``contract.py``, ``checkpoint.py``, ``splice.py`` and ``generation.py`` only (never on
the registry or ``loading.py``).
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.errors import InputError, ModelError
from videopipe.models.contract import EncodedLayout, ModelFacts, ModelGeometry, VideoLLM
from videopipe.models.generation import GenerationMixin
from videopipe.models.splice import SplicedInputs, SpliceMixin, format_timestamps
from videopipe.settings import FRAMES_PER_BATCH, default_frames_per_batch

if TYPE_CHECKING:
    import torch

    from videopipe.types import Budget, Frames, VisualTokens

__all__ = ["TransformersVideoLLM", "Geometry", "SplicedInputs", "format_timestamps"]

#: the old name of a family's geometry record (now :class:`~videopipe.models.contract.ModelGeometry`)
Geometry = ModelGeometry


def _clone(t: VisualTokens) -> VisualTokens:
    return replace(
        t,
        features=t.features.clone(),
        frame_idx=t.frame_idx.clone(),
        time_s=t.time_s.clone(),
        row=t.row.clone(),
        col=t.col.clone(),
        size=t.size.clone(),
        extras={k: v.clone() for k, v in t.extras.items()},
    )


class TransformersVideoLLM(SpliceMixin, GenerationMixin, VideoLLM):
    """Base class of the transformers adapters. Get one with :func:`videopipe.models.load_model`.

    Attributes every adapter has:

    name:      the family (registry name), e.g. ``"qwen2_5_vl"``
    model_id:  the hub id or local path it was loaded from
    min_frames, token_px, default_frame_size_px: see the properties
    """

    family: ClassVar[str] = ""
    #: transformers model_type values this adapter handles
    model_types: ClassVar[tuple[str, ...]] = ()
    #: the string the chat template writes for a {"type": "video"} content item
    video_marker: ClassVar[str] = "<video>"
    #: write "Frames at t=...s" before the video (families without native timestamps)
    timestamps_in_text: ClassVar[bool] = True
    #: flash-attention 2 is safe: false for 1-D RoPE families, because transformers' FA2 path
    #: reads gapped position ids (kept tokens after compression) as packed sequences and would
    #: block attention across the gaps; those families use sdpa with an explicit mask instead
    flash_attention_ok: ClassVar[bool] = False
    #: each clip of a video is encoded as its own video, at its own frame size
    mixed_resolution: ClassVar[bool] = True  # type: ignore[misc]
    #: generate_stream samples at a temperature > 0
    can_sample: ClassVar[bool] = True  # type: ignore[misc]
    can_converse: ClassVar[bool] = True  # type: ignore[misc]
    #: continues from the stored KV cache of an earlier prompt (``prefix_cache``): the
    #: positions are explicit (Qwen's M-RoPE included) and compared row by row, so a prefix
    #: that matches is exactly what a whole prefill would compute
    reuses_prefix: ClassVar[bool] = True  # type: ignore[misc]

    #: the config attribute holding the id of the visual placeholder token
    placeholder_config_key: ClassVar[str] = ""
    #: where the language model (without its head) sits in the loaded model, dotted
    language_model_path: ClassVar[str] = "model.language_model"

    #: the checkpoint a bare ``MODELS.create(name)`` loads
    default_model_id: ClassVar[str] = ""

    _geometry: ModelGeometry

    def __init__(
        self,
        model_id: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        frames_per_batch: int | None = None,
        quantize: str = "none",
        vision_merge: int = 0,
        quantize_store: str | os.PathLike[str] | None = None,
    ) -> None:
        from videopipe.models.checkpoint import load_processor, load_weights

        model_id = str(model_id or self.default_model_id)
        config = self._checked_config(model_id)
        if vision_merge:  # refused before the weights load: docs/models.md "CPU speed options"
            from videopipe.models.tome import check_vision_merge, merge_vision_tokens

            check_vision_merge(config.model_type, vision_merge, model_id=model_id)
        processor = load_processor(model_id)
        model = load_weights(model_id, device=device, dtype=dtype, allow_flash=self.flash_attention_ok)
        if vision_merge:
            merge_vision_tokens(model, vision_merge)
        if quantize != "none":
            from videopipe.models.quantize import Int8WeightStore, quantize_model

            store = Int8WeightStore(quantize_store) if quantize_store else None
            quantize_model(model, quantize, language_model=self.language_model_path, store=store)
        if frames_per_batch is None:
            frames_per_batch = default_frames_per_batch(quantize)
        self._setup(model, processor, model_id=model_id, frames_per_batch=frames_per_batch)

    @classmethod
    def wrap(
        cls, model: Any, processor: Any, *, model_id: str = "", frames_per_batch: int = FRAMES_PER_BATCH
    ) -> TransformersVideoLLM:
        """An adapter around an already loaded transformers model and processor."""
        self = cls.__new__(cls)
        self._setup(
            model,
            processor,
            model_id=model_id or getattr(model, "name_or_path", ""),
            frames_per_batch=frames_per_batch,
        )
        return self

    def _setup(self, model: Any, processor: Any, *, model_id: str, frames_per_batch: int) -> None:
        if frames_per_batch < 1:
            raise ModelError(f"frames_per_batch must be >= 1, got {frames_per_batch}")
        self._geometry = self._read_geometry(model.config, processor, model_id=str(model_id))
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.model_id = str(model_id)
        self.frames_per_batch = int(frames_per_batch)

    @classmethod
    def _checked_config(cls, model_id: str) -> Any:
        """``model_id``'s config, refused unless it is a checkpoint of this family."""
        from videopipe.models.checkpoint import read_config

        hint = f"the {cls.family} adapter loads model_type {'/'.join(cls.model_types)}"
        config = read_config(model_id, unknown_type_hint=hint)
        found = getattr(config, "model_type", None)
        if found not in cls.model_types:
            raise ModelError(
                f"{model_id} is a {found} checkpoint, not {cls.family}; use load_model() or the model "
                f"entry for model_type {found!r} (videopipe list)"
            )
        return config

    @classmethod
    @abstractmethod
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> ModelGeometry:
        """The checkpoint's geometry from its config and processor, validated: the one record a
        loaded model and :meth:`read_geometry` both read (the facts and the resize rule)."""

    @classmethod
    def read_geometry(cls, model_id: str | None = None) -> ModelGeometry:
        """This checkpoint's :class:`~videopipe.models.contract.ModelGeometry` from its config
        and processor files, without loading the weights: a pipeline that decodes before the
        model has loaded (``load_model=False``, :meth:`Pipeline.preload`) gets the facts and
        the resize rule the loaded model will have, so the result never depends on when the
        weights arrive."""
        from videopipe.models.checkpoint import load_processor

        model_id = str(model_id or cls.default_model_id)
        config = cls._checked_config(model_id)
        return cls._read_geometry(config, load_processor(model_id), model_id=model_id)

    @classmethod
    def read_facts(cls, model_id: str | None = None) -> ModelFacts:
        """The facts of :meth:`read_geometry` (no weights are loaded)."""
        return cls.read_geometry(model_id).facts

    def facts(self) -> ModelFacts:
        return self._geometry.facts

    def decode_size(self, height: int, width: int, num_frames: int, budget: Budget) -> tuple[int, int]:
        """The size this model encodes ``num_frames`` frames chosen at (height, width) at: its
        geometry's resize rule (Qwen: the video processor's own rounding and pixel limits)."""
        return self._geometry.decode_size(height, width, num_frames, budget)

    # -- facts samplers and the pipeline budget with -----------------------------------------
    @property
    def name(self) -> str:
        return self.family

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def min_frames(self) -> int:  # type: ignore[override]
        """Frames one visual unit needs (2 for Qwen's temporal patches; fewer are padded by
        repeating the last frame, as transformers' processor does)."""
        return self._geometry.min_frames

    @property
    def token_px(self) -> int:  # type: ignore[override]
        """Pixels per visual-token side at the preferred frame size (for ``Budget.token_px``)."""
        return self._geometry.token_px

    @property
    @abstractmethod
    def default_frame_size_px(self) -> tuple[int, int]:
        """(height, width) the model prefers frames in (square-ish default; Qwen accepts any
        multiple of ``token_px``)."""

    def tokens_per_frame(self, height: int, width: int) -> int:
        """Visual tokens the model makes from one frame of (height, width) pixels (for Qwen:
        per pair of frames, as two frames share one temporal patch)."""
        return math.ceil(height / self.token_px) * math.ceil(width / self.token_px)

    def tokens_for(self, num_frames: int, height: int, width: int) -> int:
        """Exact visual tokens of a clip of ``num_frames`` frames of (height, width) pixels
        (Qwen: frames are paired, an odd count is padded)."""
        units = -(-num_frames // self.min_frames)
        return units * self.tokens_per_frame(height, width)

    def budget(self, *, num_frames: int | None = 32, max_tokens: int | None = None) -> Budget:
        """A :class:`~videopipe.types.Budget` with this model's token geometry (token_px, the
        preferred frame size, min_frames). Note ``Budget`` counts tokens per *frame*; for Qwen
        two frames share their tokens, so use :meth:`tokens_for` for exact counts."""
        from videopipe.types import Budget

        h, w = self.default_frame_size_px
        return Budget(
            num_frames=num_frames,
            max_tokens=max_tokens,
            size_px=min(h, w),
            token_px=self.token_px,
            min_frames=self.min_frames,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, device={self.device}, dtype={self.dtype})"

    # -- encode ----------------------------------------------------------------------------------
    def encode(self, frames: Frames | Sequence[Frames], *, duration_s: float | None = None) -> VisualTokens:
        """Run the model's vision tower + projector on ``frames`` (batched, inference mode, on
        the model's device and dtype).

        ``frames`` is one :class:`Frames` or a sequence of clips (each a ``Frames``; clips may
        have different frame sizes, e.g. from key-clip sampling). Each clip is encoded as its
        own video (Qwen: its own temporal patches and grid); the tokens of all clips form one
        :class:`VisualTokens` in time order, answered about in one prompt.

        ``duration_s`` (the whole video's length) is only used by families whose prompt states
        it (SmolVLM2); default: the last frame's time."""
        import torch

        from videopipe.types import Frames as _Frames
        from videopipe.types import VisualTokens as _VT

        clips = [frames] if isinstance(frames, _Frames) else list(frames)
        if not clips or any(not isinstance(c, _Frames) for c in clips):
            got = type(frames).__name__ if not clips else ", ".join(sorted({type(c).__name__ for c in clips}))
            raise InputError(f"encode() needs a videopipe Frames or a list of Frames clips, got {got}")
        if any(len(c) == 0 for c in clips):
            raise InputError("encode() got a clip with 0 frames; sample at least one frame from the video")
        clips = [
            c if bool((c.pts_s[1:] >= c.pts_s[:-1]).all()) else c[torch.argsort(c.pts_s, stable=True)]
            for c in clips
        ]
        clips.sort(key=lambda c: float(c.pts_s[0]))
        self._frames_done, self._frames_total = 0, sum(len(c) for c in clips)
        self._report("encode", 0, self._frames_total)
        with torch.inference_mode():
            parts = [self._encode(c) for c in clips]
        # ordinary tensors (not inference-mode ones), so compressors may modify them in place
        parts = [_clone(p) for p in parts]
        tokens = parts[0] if len(parts) == 1 else _VT.concat(parts, meta=parts[0].meta)
        last = max(float(c.pts_s[-1]) for c in clips)
        dur = last if duration_s is None else float(duration_s)
        assert tokens.layout is not None  # every _encode writes one
        return replace(tokens, layout=replace(tokens.layout, duration_s=dur))

    def encode_clips(self, clips: Sequence[Frames], *, duration_s: float) -> VisualTokens:
        """All clips in one :meth:`encode` call (each its own video, at its own size)."""
        return self.encode(list(clips), duration_s=duration_s)

    def _report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _encoded(self, frames: int) -> None:
        """``frames`` more frames went through the vision tower (for :attr:`progress`)."""
        self._frames_done = min(self._frames_total, self._frames_done + frames)
        self._report("encode", self._frames_done, self._frames_total)

    def _new_layout(self, **fields: Any) -> EncodedLayout:
        """The layout of one clip encoded by this model (``fields``: its units, frames, clip)."""
        return EncodedLayout(family=self.family, model_id=self.model_id, **fields)

    @abstractmethod
    def _encode(self, frames: Frames) -> VisualTokens:
        """Tokens of one clip with their :class:`~videopipe.models.contract.EncodedLayout`
        (one clip, ``duration_s`` unset); ``meta`` may hold free-form diagnostics."""
