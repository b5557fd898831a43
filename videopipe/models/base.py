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

The uncompressed prompt is identical, token for token, to the one transformers' processor
builds for the same frames, and the position ids come from the model's own
``get_rope_index`` (Qwen) or ``arange`` (1-D RoPE families), so with no compression the
logits equal transformers' native path (``tests/models/test_parity.py``).

Depends on ``contract.py`` and ``checkpoint.py`` only (never on the registry or ``loading.py``).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.errors import InputError, ModelError
from videopipe.models.contract import EncodedLayout, Generation, ModelFacts, Turn, VideoLLM

if TYPE_CHECKING:
    import torch

    from videopipe.types import Budget, Frames, VisualTokens

__all__ = ["TransformersVideoLLM", "Geometry", "SplicedInputs", "format_timestamps"]

_GEN_KWARGS = ("do_sample", "temperature", "top_k", "top_p", "seed")


def format_timestamps(times_s: Sequence[float]) -> str:
    """``"t=0.0s, t=12.5s"``: the per-frame timestamps written into prompts."""
    return ", ".join(f"t={t:.1f}s" for t in times_s)


@dataclass
class SplicedInputs:
    """What :meth:`TransformersVideoLLM.generate` feeds the language model (exposed for tests
    and tools).

    input_ids:      [L] the prompt with one placeholder id per *kept* visual token
    inputs_embeds:  [1, L, D] text embeddings with the visual tokens spliced in
    position_ids:   [P, 1, L] (P=3 for M-RoPE, else 1) the original position of every kept token
    visual_mask:    [L] bool, True at the visual tokens (the spliced rows)
    next_position:  position id of the first generated token
    lm_kwargs:      extra keyword arguments of the language model (Qwen3-VL deepstack)
    full_length:    length of the uncompressed prompt
    """

    input_ids: torch.Tensor
    inputs_embeds: torch.Tensor
    position_ids: torch.Tensor
    visual_mask: torch.Tensor
    next_position: int
    lm_kwargs: dict[str, Any] = field(default_factory=dict)
    full_length: int = 0

    @property
    def num_visual_tokens(self) -> int:
        return int(self.visual_mask.sum())


@dataclass(frozen=True)
class Geometry:
    """A checkpoint's token geometry, read from its config and processor files (no weights are
    needed, so a decode worker computes it exactly as the loaded model does).

    token_px:   pixels per visual-token side at the preferred frame size
    min_frames: frames one visual unit needs (Qwen's temporal patch: 2)
    """

    token_px: int
    min_frames: int


@dataclass(frozen=True)
class _Prompt:
    """A family's uncompressed prompt: token ids, which ones are visual, their positions."""

    input_ids: torch.Tensor  # [L]
    visual_slots: torch.Tensor  # [S] indices into input_ids of the visual placeholders, in order
    positions: torch.Tensor  # [P, L]


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


class TransformersVideoLLM(VideoLLM):
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

    #: the config attribute holding the id of the visual placeholder token
    placeholder_config_key: ClassVar[str] = ""
    #: where the language model (without its head) sits in the loaded model, dotted
    language_model_path: ClassVar[str] = "model.language_model"

    #: the checkpoint a bare ``MODELS.create(name)`` loads
    default_model_id: ClassVar[str] = ""

    _geometry: Geometry

    def __init__(
        self,
        model_id: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        frames_per_batch: int = 32,
        quantize: str = "none",
        vision_merge: int = 0,
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
            from videopipe.models.quantize import quantize_model

            quantize_model(model, quantize)
        self._setup(model, processor, model_id=model_id, frames_per_batch=frames_per_batch)

    @classmethod
    def wrap(
        cls, model: Any, processor: Any, *, model_id: str = "", frames_per_batch: int = 32
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
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> Geometry:
        """The checkpoint's geometry from its config and processor, validated (the same call
        serves a loaded model and :meth:`read_facts`)."""

    @classmethod
    def _facts_of(cls, model_id: str, geometry: Geometry) -> ModelFacts:
        return ModelFacts(
            model_id=str(model_id),
            token_px=geometry.token_px,
            min_frames=geometry.min_frames,
            mixed_resolution=cls.mixed_resolution,
        )

    @classmethod
    def read_facts(cls, model_id: str | None = None) -> ModelFacts:
        """This checkpoint's :class:`~videopipe.models.contract.ModelFacts` from its config and
        processor files, without loading the weights: the geometry comes from
        :meth:`_read_geometry` and the facts from :meth:`_facts_of`, as for a loaded model."""
        from videopipe.models.checkpoint import load_processor

        model_id = str(model_id or cls.default_model_id)
        config = cls._checked_config(model_id)
        return cls._facts_of(
            model_id, cls._read_geometry(config, load_processor(model_id), model_id=model_id)
        )

    def facts(self) -> ModelFacts:
        return self._facts_of(self.model_id, self._geometry)

    @classmethod
    def read_sizer(cls, model_id: str | None = None) -> Callable[[int, int, int, Budget], tuple[int, int]]:
        """This checkpoint's :meth:`decode_size` without the weights (config and processor
        files, read once per process): a pipeline that decodes before the model has loaded
        (``load_model=False``, :meth:`Pipeline.preload`) decodes at exactly the size the loaded
        model's ``decode_size`` gives, so the result never depends on when the weights arrive.
        The sizing half of the adapter holds only what ``decode_size`` reads (geometry,
        processor, model id), never a model."""
        from videopipe.models.checkpoint import load_processor

        model_id = str(model_id or cls.default_model_id)
        config = cls._checked_config(model_id)
        half = cls.__new__(cls)
        half.processor = load_processor(model_id)
        half._geometry = cls._read_geometry(config, half.processor, model_id=model_id)
        half.model_id = model_id
        return half.decode_size

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

    # -- prompt ----------------------------------------------------------------------------------
    def _check_tokens(self, tokens: VisualTokens) -> None:
        from videopipe.types import VisualTokens as _VT

        if not isinstance(tokens, _VT):
            raise InputError(f"expected VisualTokens from encode(), got {type(tokens).__name__}")
        fam = tokens.layout.family if tokens.layout is not None else None
        if fam != self.family:
            raise InputError(
                f"these visual tokens were encoded by {fam or 'an unknown encoder'!r}, not by this "
                f"{self.family!r} model; encode the frames with the model that answers"
            )
        if len(tokens) == 0:
            raise InputError("no visual tokens to answer from (the compressor removed them all)")
        dim = int(self.model.get_input_embeddings().embedding_dim)
        if tokens.dim != dim:
            raise InputError(
                f"visual tokens of width {tokens.dim} (encoded by {self._layout_of(tokens).model_id!r}) do "
                f"not fit {self.model_id!r} (width {dim}); encode the frames with the model that answers"
            )

    @staticmethod
    def _layout_of(tokens: VisualTokens) -> EncodedLayout:
        if tokens.layout is None:
            raise InputError(
                "these visual tokens carry no layout (VisualTokens.layout), so their places in the "
                "prompt are unknown; answer with the tokens encode() returned (compressors keep it)"
            )
        return tokens.layout

    def _check_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty; ask something about the video")
        specials = set(self.tokenizer.all_special_tokens) | {self.video_marker}
        bad = sorted(s for s in specials if s and s in question)
        if bad:
            raise InputError(f"the question contains the model's special token(s) {bad}; remove them")
        return question.strip()

    def chat_text(self, question: str, tokens: VisualTokens, history: Sequence[Turn] = ()) -> str:
        """The chat-templated prompt with one video marker (what one would give the family's
        processor together with the frames): the ``history`` turns, then ``question``; the video
        in the turn marked ``video`` (else with the question)."""
        video: list[dict[str, Any]] = []
        if self.timestamps_in_text:
            times = self._layout_of(tokens).frame_time_s
            video.append({"type": "text", "text": f"Frames at {format_timestamps(times)}.\n"})
        video.append({"type": "video"})
        placed = any(t.video for t in history)
        messages = [
            {
                "role": t.role,
                "content": [
                    *(video if t.video else []),
                    *([{"type": "text", "text": self._check_question(t.text)}] if t.text.strip() else []),
                ],
            }
            for t in history
        ]
        messages.append(
            {"role": "user", "content": [*([] if placed else video), {"type": "text", "text": question}]}
        )
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if isinstance(text, list):
            text = text[0]
        if text.count(self.video_marker) != 1:
            raise ModelError(
                f"the chat template of {self.model_id} wrote {text.count(self.video_marker)} video "
                f"markers {self.video_marker!r} for one video (expected 1); is this a video-capable "
                "instruct checkpoint?"
            )
        return text

    @abstractmethod
    def _visual_block(self, layout: EncodedLayout) -> str:
        """The text that replaces the video marker for the uncompressed tokens, with one
        placeholder token per visual token (exactly what the family's processor writes)."""

    @property
    def _placeholder_id(self) -> int:
        return int(getattr(self.model.config, self.placeholder_config_key))

    def _positions(self, input_ids: torch.Tensor, layout: EncodedLayout) -> torch.Tensor:
        """[P, L] position ids of the uncompressed prompt (1-D RoPE: 0..L-1)."""
        import torch

        return torch.arange(input_ids.shape[0], device=input_ids.device).unsqueeze(0)

    def _prompt(self, text: str, layout: EncodedLayout) -> _Prompt:
        full_text = text.replace(self.video_marker, self._visual_block(layout))
        ids = self.tokenizer(full_text, return_tensors="pt")["input_ids"][0].to(self.device)
        slots = (ids == self._placeholder_id).nonzero().squeeze(1)
        return _Prompt(input_ids=ids, visual_slots=slots, positions=self._positions(ids, layout))

    def _slot_of_tokens(self, tokens: VisualTokens) -> torch.Tensor:
        """For each token, the index of its original placeholder among the visual slots."""
        import torch

        layout = self._layout_of(tokens)
        dev = tokens.device
        unit_frames = torch.as_tensor(layout.unit_frame_idx, dtype=torch.int64, device=dev)
        grids = torch.as_tensor(layout.unit_grid_hw, dtype=torch.int64, device=dev).view(-1, 2)
        offsets = torch.cumsum(grids[:, 0] * grids[:, 1], 0) - grids[:, 0] * grids[:, 1]
        sorted_frames, perm = torch.sort(unit_frames)
        pos = torch.searchsorted(sorted_frames, tokens.frame_idx).clamp(max=len(unit_frames) - 1)
        unit = perm[pos]
        h, w = grids[unit, 0], grids[unit, 1]
        bad = (unit_frames[unit] != tokens.frame_idx) | (tokens.row >= h) | (tokens.col >= w)
        bad |= (tokens.row < 0) | (tokens.col < 0)
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise InputError(
                f"visual token {i} (frame {int(tokens.frame_idx[i])}, row {int(tokens.row[i])}, col "
                f"{int(tokens.col[i])}) is not a position of the encoded token grid; compressors "
                "must keep each token's original frame/row/col"
            )
        slot = offsets[unit] + tokens.row * w + tokens.col
        if torch.unique(slot).numel() != slot.numel():
            raise InputError(
                "two visual tokens claim the same original position; a compressor that "
                "merges tokens must give each merged token one representative position"
            )
        return slot

    def build_inputs(
        self, tokens: VisualTokens, question: str, history: Sequence[Turn] = ()
    ) -> SplicedInputs:
        """The spliced ``inputs_embeds`` and preserved position ids for ``tokens`` + ``question``
        (after the conversation's ``history``)."""
        import torch

        self._check_tokens(tokens)
        question = self._check_question(question)
        tokens = tokens.to(self.device)
        with torch.inference_mode():
            layout = self._layout_of(tokens)
            lay = self._prompt(self.chat_text(question, tokens, history), layout)
            n_full = layout.num_tokens
            n_extra = lay.visual_slots.numel() - n_full  # LLaVA-OneVision: 1 trailing newline token
            if n_extra < 0:
                raise ModelError(
                    f"the prompt has {lay.visual_slots.numel()} visual placeholders for {n_full} tokens"
                )
            slot = self._slot_of_tokens(tokens)
            order = torch.argsort(slot)
            slot = slot[order]
            feats = tokens.features[order]
            extra_feats = self._extra_slot_features()
            keep_slots = torch.cat([slot, torch.arange(n_full, n_full + n_extra, device=self.device)])
            L = lay.input_ids.shape[0]
            keep = torch.ones(L, dtype=torch.bool, device=self.device)
            keep[lay.visual_slots] = False
            keep[lay.visual_slots[keep_slots]] = True
            emb = self.model.get_input_embeddings()(lay.input_ids).clone()
            vis = torch.cat([feats, extra_feats.to(feats.dtype)]) if n_extra else feats
            emb[lay.visual_slots[keep_slots]] = vis.to(emb.dtype)
            visual_mask = torch.zeros(L, dtype=torch.bool, device=self.device)
            visual_mask[lay.visual_slots[keep_slots]] = True
            lm_kwargs = self._lm_kwargs({k: v[order] for k, v in tokens.extras.items()}, visual_mask[keep])
            return SplicedInputs(
                input_ids=lay.input_ids[keep],
                inputs_embeds=emb[keep].unsqueeze(0),
                position_ids=lay.positions[:, keep].unsqueeze(1),
                visual_mask=visual_mask[keep],
                next_position=int(lay.positions.max()) + 1,
                lm_kwargs=lm_kwargs,
                full_length=L,
            )

    def _extra_slot_features(self) -> torch.Tensor:
        """Features of visual placeholders that are not VisualTokens (LLaVA's newline)."""
        import torch

        return torch.empty(0, device=self.device)

    def _lm_kwargs(self, extras: Mapping[str, torch.Tensor], visual_mask: torch.Tensor) -> dict[str, Any]:
        return {}

    # -- language model --------------------------------------------------------------------------
    @property
    def _language_model(self) -> Any:
        module = self.model
        for name in self.language_model_path.split("."):
            module = getattr(module, name)
        return module

    def _run_lm(
        self,
        embeds: torch.Tensor,
        positions: torch.Tensor,
        past: Any,
        past_len: int,
        lm_kwargs: Mapping[str, Any],
        logits_to_keep: int | None,
    ) -> tuple[torch.Tensor, Any]:
        import torch

        # an explicit all-ones mask: with gapped position ids (compressed tokens) transformers
        # would otherwise read the gaps as packed sequences and block the attention between them
        mask = torch.ones(1, past_len + embeds.shape[1], dtype=torch.long, device=embeds.device)
        if positions.shape[0] == 1:  # 1-D RoPE: [batch, L]; M-RoPE: [3, batch, L]
            positions = positions[0]
        out = self._language_model(
            inputs_embeds=embeds,
            position_ids=positions,
            attention_mask=mask,
            past_key_values=past,
            use_cache=True,
            **lm_kwargs,
        )
        hidden = out.last_hidden_state
        if logits_to_keep is not None:
            hidden = hidden[:, -logits_to_keep:]
        return self.model.lm_head(hidden), out.past_key_values

    def text_embeddings(self, text: str) -> torch.Tensor:
        """The LLM's input embeddings of ``text``'s tokens, float32 [L, D] on the CPU.

        Visual tokens live in the same space after the projector/merger, so the pipeline uses
        these to rank evidence by question relevance and as the ``query`` compressor's query."""
        import torch

        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(
            self.device
        )
        with torch.inference_mode():
            return self.model.get_input_embeddings()(ids).float().cpu()

    def forward_logits(self, tokens: VisualTokens, question: str) -> torch.Tensor:
        """Logits [L, vocab] (float32) of the spliced prompt, one row per prompt token."""
        import torch

        inp = self.build_inputs(tokens, question)
        with torch.inference_mode():
            logits, _ = self._run_lm(inp.inputs_embeds, inp.position_ids, None, 0, inp.lm_kwargs, None)
        return logits[0].float()

    def count_text_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128, **gen_kwargs: Any
    ) -> str:
        """Answer ``question`` about the (possibly compressed) ``tokens``.

        Greedy by default; ``do_sample=True`` with ``temperature``, ``top_k``, ``top_p`` and
        ``seed`` samples. Stops at the model's end-of-turn token or after ``max_new_tokens``."""
        out = list(self._token_ids(tokens, question, max_new_tokens=max_new_tokens, **gen_kwargs))
        return self.tokenizer.decode(out, skip_special_tokens=True).strip()

    def generate_stream(
        self,
        tokens: VisualTokens,
        question: str,
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        history: Sequence[Turn] = (),
    ) -> Iterator[str]:
        """The answer of :meth:`generate` in pieces as the tokens are decoded (whole words, through
        transformers' ``TextIteratorStreamer``); joined they equal ``generate``'s text with the
        same options (leading and trailing whitespace is stripped the same way). ``temperature``
        0: greedy; above 0: sampling at that temperature. Closing the iterator stops the
        generation after the current token. ``history``: the conversation's earlier turns."""
        import torch
        from transformers import TextIteratorStreamer

        if temperature < 0:
            raise InputError(f"temperature must be >= 0 (0: greedy), got {temperature}")
        gen = {"do_sample": True, "temperature": float(temperature)} if temperature else {}
        streamer = TextIteratorStreamer(self.tokenizer, skip_special_tokens=True)

        def pieces() -> Iterator[str]:
            for tok in self._token_ids(
                tokens, question, max_new_tokens=max_new_tokens, history=history, **gen
            ):
                streamer.put(torch.tensor([tok]))
                yield from _drain(streamer)
            streamer.end()
            yield from _drain(streamer)

        yield from _stripped(pieces())

    def _token_ids(
        self,
        tokens: VisualTokens,
        question: str,
        *,
        max_new_tokens: int,
        history: Sequence[Turn] = (),
        **gen_kwargs: Any,
    ) -> Iterator[int]:
        """The answer's token ids, one at a time (the decoding loop of :meth:`generate` and
        :meth:`generate_stream`)."""
        import torch

        bad = sorted(set(gen_kwargs) - set(_GEN_KWARGS))
        if bad:
            raise InputError(f"unknown generation option(s) {bad}; valid: {', '.join(_GEN_KWARGS)}")
        if max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.last_generation = None
        inp = self.build_inputs(tokens, question, history)
        pick = _Picker(**gen_kwargs)
        stop = self._stop_ids()
        count = 0
        embed = self.model.get_input_embeddings()
        n_pos = inp.position_ids.shape[0]
        length = inp.inputs_embeds.shape[1]
        with torch.inference_mode():
            self._report("prefill", 0, length)
            logits, past = self._run_lm(inp.inputs_embeds, inp.position_ids, None, 0, inp.lm_kwargs, 1)
            self._report("prefill", length, length)
            pos = inp.next_position
            prompt_len, reason = length, "length"
            for _ in range(max_new_tokens):
                nxt = pick(logits[0, -1])
                if nxt in stop:
                    reason = "stop"
                    break
                count += 1
                self._report("generate", count, max_new_tokens)
                yield nxt
                if count == max_new_tokens:
                    break
                ids = torch.tensor([[nxt]], device=self.device)
                p = torch.full((n_pos, 1, 1), pos, dtype=torch.long, device=self.device)
                logits, past = self._run_lm(embed(ids), p, past, length, {}, 1)
                length += 1
                pos += 1
            self.last_generation = Generation(prompt_len, count, reason)

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        for src in (getattr(self.model, "generation_config", None), self.model.config, self.tokenizer):
            e = getattr(src, "eos_token_id", None)
            if e is None:
                continue
            ids.update(e if isinstance(e, (list, tuple)) else [e])
        return {int(i) for i in ids}


def _drain(streamer: Any) -> Iterator[str]:
    """The text a ``TextIteratorStreamer`` has finalized so far (without blocking)."""
    import queue

    while True:
        try:
            text = streamer.text_queue.get_nowait()
        except queue.Empty:
            return
        if text is not streamer.stop_signal and text:
            yield text


def _stripped(pieces: Iterable[str]) -> Iterator[str]:
    """``pieces`` as if their join were ``.strip()``-ed: leading whitespace is dropped and
    whitespace is held back until more text follows it."""
    started, held = False, ""
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        body = piece.rstrip()
        if body:
            yield held + body
            held = piece[len(body) :]
        else:
            held += piece


class _Picker:
    """Next-token choice: greedy, or sampling with temperature / top-k / top-p."""

    def __init__(
        self,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> None:
        import torch

        if temperature <= 0:
            raise InputError(f"temperature must be > 0, got {temperature}")
        if top_p is not None and not 0 < top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {top_p}")
        if top_k is not None and top_k < 1:
            raise InputError(f"top_k must be >= 1, got {top_k}")
        self.do_sample, self.temperature, self.top_k, self.top_p = do_sample, temperature, top_k, top_p
        self.gen = torch.Generator().manual_seed(seed) if seed is not None else None

    def __call__(self, logits: torch.Tensor) -> int:
        import torch

        if not self.do_sample:
            return int(torch.argmax(logits))
        x = logits.float().cpu() / self.temperature
        if self.top_k is not None:
            kth = torch.topk(x, min(self.top_k, x.numel())).values[-1]
            x = x.masked_fill(x < kth, float("-inf"))
        probs = torch.softmax(x, -1)
        if self.top_p is not None:
            sp, si = torch.sort(probs, descending=True)
            cut = torch.cumsum(sp, 0) - sp > self.top_p
            sp[cut] = 0
            probs = torch.zeros_like(probs).scatter(0, si, sp)
        return int(torch.multinomial(probs / probs.sum(), 1, generator=self.gen))
