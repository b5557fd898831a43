"""Qwen2.5-VL and Qwen3-VL adapters (3-D M-RoPE; two frames per temporal patch).

Tokens: the vision tower patches pairs of frames (``temporal_patch_size`` = 2) into
14 px (2.5) / 16 px (3) patches, the merger joins 2x2 patches, so one LLM token covers a
28 px / 32 px square of a *pair* of frames. A token's ``frame_idx`` is the first frame of its
pair, ``time_s`` the pair's mean time. An odd number of frames is padded by repeating the
last frame, as transformers' video processor does.

Positions: the model's own ``get_rope_index`` on the uncompressed prompt gives each visual
token its (t, h, w); kept tokens keep theirs, dropped tokens leave gaps.

* Qwen2.5-VL: one ``<|vision_start|><|video_pad|>...<|vision_end|>`` block; the temporal
  position grows with absolute time (``tokens_per_second`` x seconds per temporal patch,
  from the frames' mean spacing); a "Frames at t=...s" line precedes the video.
* Qwen3-VL: each temporal patch is its own block preceded by ``<12.5 seconds>`` (the
  format the model was trained with); the vision tower's deepstack features (added to the
  first LLM layers' hidden states at the visual positions) travel in
  ``VisualTokens.extras["deepstack"]`` [N, layers, D] and are compressed with the tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.models.base import Geometry, TransformersVideoLLM
from videopipe.models.contract import ClipLayout

if TYPE_CHECKING:
    import torch

    from videopipe.models.contract import EncodedLayout
    from videopipe.text.timeline import TextLine
    from videopipe.types import Frames, VisualTokens

__all__ = ["Qwen25VL", "Qwen3VL"]


@dataclass(frozen=True)
class _QwenGeometry(Geometry):
    patch: int  # vision patch side (px)
    merge: int  # patches per token side (the merger)
    min_pixels: int  # the video processor's pixel limits
    max_pixels: int


class _QwenVL(TransformersVideoLLM):
    video_marker: ClassVar[str] = "<|video_pad|>"
    # 3-D positions never reach the attention kernels (only the rotary embedding), so gaps
    # cannot be mistaken for packed sequences
    flash_attention_ok: ClassVar[bool] = True
    placeholder_config_key: ClassVar[str] = "video_token_id"
    #: tokens per side of the default frame
    _default_side_tokens: ClassVar[int] = 16

    _geometry: _QwenGeometry

    @classmethod
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> _QwenGeometry:
        vc = config.vision_config
        size = getattr(processor.video_processor, "size", None) or {}
        get = size.get if isinstance(size, Mapping) else (lambda k, d=None: getattr(size, k, d))
        patch, merge = int(vc.patch_size), int(vc.spatial_merge_size)
        return _QwenGeometry(
            token_px=patch * merge,
            min_frames=int(vc.temporal_patch_size),
            patch=patch,
            merge=merge,
            min_pixels=int(get("shortest_edge") or 0),
            max_pixels=int(get("longest_edge") or 0),
        )

    @property
    def default_frame_size_px(self) -> tuple[int, int]:
        """448x448 (16x16 tokens for Qwen2.5-VL, 14x14 for Qwen3-VL), raised to the processor's
        minimum pixels."""
        side = self._default_side_tokens * self.token_px
        while side * side < self._geometry.min_pixels:
            side += self.token_px
        return side, side

    # -- encode ----------------------------------------------------------------------------------
    def _encode(self, frames: Frames) -> VisualTokens:
        import torch

        from videopipe.types import VisualTokens

        geo = self._geometry
        tpatch, merge = geo.min_frames, geo.merge
        n = len(frames)
        pad = -n % tpatch
        if pad:
            frames = type(frames).concat([frames, *([frames[-1]] * pad)])
        # one processor call per clip: its resize decision depends on the whole clip (Qwen3-VL's
        # pixel limits are per video); the vision tower then runs on groups of temporal patches
        # (its attention never crosses a temporal patch, so batching does not change the result)
        batch = self.processor.video_processor(
            videos=[frames.data.permute(0, 3, 1, 2)], return_tensors="pt", **self._video_kwargs()
        )
        g_all, gh, gw = (int(x) for x in batch["video_grid_thw"][0])
        pixels = batch["pixel_values_videos"]
        per_group = gh * gw
        step = max(1, self.frames_per_batch // tpatch)
        feats: list[torch.Tensor] = []
        deep: list[torch.Tensor] = []
        for s in range(0, g_all, step):
            e = min(g_all, s + step)
            thw = torch.tensor([[e - s, gh, gw]], device=self.device)
            out = self.model.model.get_video_features(
                pixel_values_videos=pixels[s * per_group : e * per_group].to(self.device), video_grid_thw=thw
            )
            feats.append(torch.cat(list(out.pooler_output)))
            ds = getattr(out, "deepstack_features", None)
            if ds:
                deep.append(torch.stack([torch.cat(list(layer)) for layer in ds], dim=1))
        h, w = gh // merge, gw // merge
        g = len(frames) // tpatch
        pts = frames.pts_s.view(g, tpatch)
        unit_time = ((pts[:, 0] + pts[:, -1]) / 2).tolist()
        unit_frame = frames.indices.view(g, tpatch)[:, 0].tolist()
        real = frames.pts_s[:n]
        spacing = float((real[-1] - real[0]) / (n - 1)) if n > 1 and real[-1] > real[0] else 1.0
        layout = self._new_layout(
            unit_frame_idx=unit_frame,
            unit_time_s=unit_time,
            unit_grid_hw=[(h, w)] * g,
            frame_idx=frames.indices[:n].tolist(),
            frame_time_s=real.tolist(),
            clips=[
                ClipLayout(
                    frame_size_px=(frames.height, frames.width),
                    num_tokens=g * h * w,
                    grid_thw=(g, gh, gw),
                    second_per_grid=spacing * tpatch,
                )
            ],
            padded_frames=pad,
        )
        # diagnostics only
        meta = {"temporal_patch_size": tpatch, "spatial_merge_size": merge, "patch_size": geo.patch}
        features = torch.cat(feats).view(g, h, w, -1)
        extras = {"deepstack": torch.cat(deep).view(g, h, w, *deep[0].shape[1:])} if deep else None
        return VisualTokens.from_grid(
            features, unit_frame, unit_time, extras=extras, meta=meta, layout=layout
        )

    def _video_kwargs(self) -> dict[str, Any]:
        # we choose and size the frames ourselves: no resampling, no per-frame pixel cap
        return {"do_sample_frames": False, "cap_pixels_per_frame": False}

    # -- prompt ----------------------------------------------------------------------------------
    def _positions(self, input_ids: torch.Tensor, layout: EncodedLayout) -> torch.Tensor:
        import torch

        ids = input_ids.unsqueeze(0)
        mm = (ids == self._placeholder_id).to(torch.int32) * 2  # 2 = video in mm_token_type_ids
        thw = torch.tensor([c.grid_thw for c in layout.clips], device=input_ids.device)
        pos, _ = self.model.model.get_rope_index(
            ids, mm_token_type_ids=mm, video_grid_thw=thw, **self._rope_kwargs(layout)
        )
        return pos[:, 0]

    def _rope_kwargs(self, layout: EncodedLayout) -> dict[str, Any]:
        return {}


class Qwen25VL(_QwenVL):
    """Qwen2.5-VL (``Qwen/Qwen2.5-VL-3B-Instruct``, ``-7B-Instruct``, ...)."""

    family: ClassVar[str] = "qwen2_5_vl"
    default_model_id: ClassVar[str] = "Qwen/Qwen2.5-VL-7B-Instruct"
    model_types: ClassVar[tuple[str, ...]] = ("qwen2_5_vl",)
    timestamps_in_text: ClassVar[bool] = True

    def _visual_block(self, layout: EncodedLayout) -> str:
        # one video per clip; the chat template already wrote the outer vision start/end
        vs = getattr(self.tokenizer, "vision_start_token", None) or "<|vision_start|>"
        ve = getattr(self.tokenizer, "vision_end_token", None) or "<|vision_end|>"
        return f"{ve}{vs}".join(self.video_marker * c.num_tokens for c in layout.clips)

    def _rope_kwargs(self, layout: EncodedLayout) -> dict[str, Any]:
        import torch

        # every Qwen clip records its seconds per temporal patch (None would fail here, loudly)
        return {
            "second_per_grid_ts": torch.tensor([c.second_per_grid for c in layout.clips], dtype=torch.float32)
        }


class Qwen3VL(_QwenVL):
    """Qwen3-VL (``Qwen/Qwen3-VL-2B-Instruct``, ``-4B-``, ``-8B-Instruct``, ...)."""

    family: ClassVar[str] = "qwen3_vl"

    def with_text(self, question: str, lines: Sequence[TextLine]) -> str:
        """The subtitle prompt with each line timed as Qwen3-VL's processor times frames
        (``<12.5 seconds>``), so text and frames share one notation."""
        if not lines:
            return question
        from videopipe.text.prompt import seconds_block

        return seconds_block(lines) + question

    default_model_id: ClassVar[str] = "Qwen/Qwen3-VL-8B-Instruct"
    model_types: ClassVar[tuple[str, ...]] = ("qwen3_vl",)
    timestamps_in_text: ClassVar[bool] = False  # the native "<t seconds>" per temporal patch
    _default_side_tokens: ClassVar[int] = 14

    def _visual_block(self, layout: EncodedLayout) -> str:
        # one video per clip (joined like two video items of the chat template), and inside
        # it one "<t seconds>" + block per temporal patch, as Qwen3VLProcessor writes
        p = self.processor
        vs, ve, pad = p.vision_start_token, p.vision_end_token, self.video_marker
        units = list(zip(layout.unit_time_s, layout.unit_grid_hw))
        videos, start = [], 0
        for c in layout.clips:
            assert c.grid_thw is not None  # every Qwen clip has its grid
            g = c.grid_thw[0]
            videos.append(
                "".join(f"<{t:.1f} seconds>{vs}{pad * (h * w)}{ve}" for t, (h, w) in units[start : start + g])
            )
            start += g
        return f"{ve}{vs}".join(videos)

    def _lm_kwargs(self, extras: Mapping[str, torch.Tensor], visual_mask: torch.Tensor) -> dict[str, Any]:
        deep = extras.get("deepstack")
        if deep is None:
            return {}
        layers = [deep[:, i].to(self.dtype) for i in range(deep.shape[1])]
        return {"visual_pos_masks": visual_mask.unsqueeze(0), "deepstack_visual_embeds": layers}
