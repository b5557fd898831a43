"""The splice: the family's prompt for the *uncompressed* tokens, rebuilt from their
:class:`~videopipe.models.contract.EncodedLayout`, with the placeholder of every visual token the
compressor removed dropped, the kept tokens spliced into ``inputs_embeds`` and every kept token
given the position id it had in the uncompressed prompt (Positional Preservation; for Qwen's
3-D M-RoPE its original (t, h, w)). :class:`SpliceMixin` is the half of
:class:`~videopipe.models.base.TransformersVideoLLM` that does it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.errors import InputError, ModelError
from videopipe.models.contract import EncodedLayout

if TYPE_CHECKING:
    import torch

    from videopipe.models.contract import Turn
    from videopipe.types import VisualTokens

__all__ = ["SpliceMixin", "SplicedInputs", "format_timestamps"]


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
class _Prompt:
    """A family's uncompressed prompt: token ids, which ones are visual, their positions."""

    input_ids: torch.Tensor  # [L]
    visual_slots: torch.Tensor  # [S] indices into input_ids of the visual placeholders, in order
    positions: torch.Tensor  # [P, L]


class SpliceMixin:
    """Builds the spliced inputs of :meth:`build_inputs` (see the module docstring). Mixed into
    :class:`~videopipe.models.base.TransformersVideoLLM`, which holds what it reads."""

    family: ClassVar[str] = ""
    video_marker: ClassVar[str] = "<video>"
    timestamps_in_text: ClassVar[bool] = True
    placeholder_config_key: ClassVar[str] = ""
    model: Any
    processor: Any
    tokenizer: Any
    model_id: str
    device: Any

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

    def _lm_kwargs_from(self, lm_kwargs: Mapping[str, Any], start: int) -> dict[str, Any]:
        """``lm_kwargs`` for the prompt's rows from ``start`` on (the rows before it come from a
        reused KV cache). Families with per-row extras override it (Qwen3-VL)."""
        if start and lm_kwargs:
            raise ModelError(f"{self.family}: its language model's extra inputs cannot start at row {start}")
        return dict(lm_kwargs)

    def _visual_row_extras(self, lm_kwargs: Mapping[str, Any]) -> torch.Tensor | None:
        """[V, X] what the language model reads at each visual row besides its embedding (Qwen3-VL's
        deepstack features), compared when a stored prefix is matched; None: nothing."""
        return None
