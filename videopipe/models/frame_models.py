"""LLaVA-OneVision / LLaVA-Video and SmolVLM2 adapters: one frame = one square image.

Both resize every frame to the vision tower's fixed square input, so a frame always gives
the same ``grid x grid`` tokens, and both use 1-D RoPE: a kept token keeps the index it had
in the uncompressed prompt as its position id (the dropped tokens leave gaps).

* LLaVA-OneVision (LLaVA-Video uses the same class): SigLIP features, 2-layer projector,
  bilinear 2x pooling (27x27 -> 14x14 tokens at 384 px); all frames' tokens follow each
  other inside one ``<video>`` run that ends with the model's learned ``image_newline``
  token (always kept). A "Frames at t=...s" line precedes the video.
* SmolVLM2: SigLIP features, pixel shuffle (scale 3 for 2.2B: 27x27 -> 9x9 tokens) and a
  linear connector; the prompt is the SmolVLM2 video prompt ("You are provided the following
  series of N frames ...", then ``Frame from mm:ss:`` + ``<fake_token_around_image>
  <global-img>`` + tokens + ``<fake_token_around_image>`` per frame), built with the
  constants of the installed transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.errors import MissingDependencyError, ModelError
from videopipe.models.base import TransformersVideoLLM
from videopipe.models.contract import ClipLayout, ModelGeometry, clips_of_units

if TYPE_CHECKING:
    import torch

    from videopipe.models.contract import EncodedLayout
    from videopipe.types import Frames, VisualTokens

__all__ = ["LlavaOneVision", "SmolVLM2"]


@dataclass(frozen=True)
class _FrameGeometry(ModelGeometry):
    grid: int  # tokens per side of a frame
    side_px: int  # the square the vision tower sees


def _frame_geometry(model_id: str, side_px: int, grid: int) -> _FrameGeometry:
    # every frame is resized to the vision tower's square by the processor: no resize rule
    return _FrameGeometry(
        model_id=model_id,
        token_px=side_px // grid,
        min_frames=1,
        mixed_resolution=_FrameModel.mixed_resolution,
        grid=grid,
        side_px=side_px,
    )


class _FrameModel(TransformersVideoLLM):
    """Shared by families that encode every frame as one fixed-size square image."""

    _geometry: _FrameGeometry

    @property
    def _grid(self) -> int:
        return self._geometry.grid

    @property
    def default_frame_size_px(self) -> tuple[int, int]:
        s = self.token_px * self._grid
        return s, s

    def tokens_per_frame(self, height: int, width: int) -> int:
        """Always ``grid**2``: every frame is resized to the vision tower's square."""
        return self._grid * self._grid

    def _frame_tokens(self, frames: Frames, feats: torch.Tensor) -> VisualTokens:
        from videopipe.types import VisualTokens

        t, g = len(frames), self._grid
        layout = self._new_layout(
            unit_frame_idx=frames.indices.tolist(),
            unit_time_s=frames.pts_s.tolist(),
            unit_grid_hw=[(g, g)] * t,
            frame_idx=frames.indices.tolist(),
            frame_time_s=frames.pts_s.tolist(),
            clips=[ClipLayout(frame_size_px=(frames.height, frames.width), num_tokens=t * g * g)],
            unit_clip_ids=clips_of_units(frames.clip_array, 1, t),
        )
        features = feats.reshape(t, g, g, -1)
        return VisualTokens.from_grid(features, frames.indices, frames.pts_s, layout=layout)

    def _batches(self, frames: Frames):  # type: ignore[no-untyped-def]
        for s in range(0, len(frames), self.frames_per_batch):
            batch = frames.data[s : s + self.frames_per_batch]
            yield batch.permute(0, 3, 1, 2)
            self._encoded(len(batch))  # the caller has encoded it


class LlavaOneVision(_FrameModel):
    """LLaVA-OneVision and LLaVA-Video (``llava-hf/llava-onevision-qwen2-0.5b-ov-hf``,
    ``llava-hf/LLaVA-Video-7B-Qwen2-hf``, ...)."""

    family: ClassVar[str] = "llava_onevision"
    default_model_id: ClassVar[str] = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
    model_types: ClassVar[tuple[str, ...]] = ("llava_onevision",)
    video_marker: ClassVar[str] = "<video>"
    timestamps_in_text: ClassVar[bool] = True
    placeholder_config_key: ClassVar[str] = "video_token_index"

    @classmethod
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> _FrameGeometry:
        vc = config.vision_config
        side = int(vc.image_size)
        return _frame_geometry(model_id, side, math.ceil((side // int(vc.patch_size)) / 2))

    def _encode(self, frames: Frames) -> VisualTokens:
        import torch

        feats = []
        for video in self._batches(frames):
            pv = self.processor.video_processor(videos=[video], return_tensors="pt", do_sample_frames=False)
            pv = pv["pixel_values_videos"].to(self.device, self.dtype)
            out = self.model.model.get_video_features(pixel_values_videos=pv)
            feats.append(out.pooler_output[0, :-1])  # the last row is the image_newline
        return self._frame_tokens(frames, torch.cat(feats))

    def _visual_block(self, layout: EncodedLayout) -> str:
        return self.video_marker * (layout.num_tokens + 1)  # + image_newline

    def _extra_slot_features(self) -> torch.Tensor:
        return self.model.model.image_newline.detach().unsqueeze(0)


class SmolVLM2(_FrameModel):
    """SmolVLM2 (``HuggingFaceTB/SmolVLM2-2.2B-Instruct``, ``-500M-Video-Instruct``, ...)."""

    family: ClassVar[str] = "smolvlm"
    default_model_id: ClassVar[str] = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"
    model_types: ClassVar[tuple[str, ...]] = ("smolvlm",)
    video_marker: ClassVar[str] = "<video>"
    timestamps_in_text: ClassVar[bool] = False  # the native "Frame from mm:ss:" per frame
    placeholder_config_key: ClassVar[str] = "image_token_id"
    language_model_path: ClassVar[str] = "model.text_model"

    @classmethod
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> _FrameGeometry:
        mis = getattr(processor.video_processor, "max_image_size", None) or {}
        side = int(mis.get("longest_edge") or config.vision_config.image_size)
        grid = (side // int(config.vision_config.patch_size)) // int(config.scale_factor)
        seq = int(getattr(processor, "image_seq_len", grid**2))
        if seq != grid**2:
            raise ModelError(
                f"{model_id}: processor image_seq_len {seq} does not match the model's "
                f"{grid}x{grid} tokens per frame; the checkpoint's processor and model disagree"
            )
        return _frame_geometry(model_id, side, grid)

    def _encode(self, frames: Frames) -> VisualTokens:
        import torch

        feats = []
        for video in self._batches(frames):
            b = self.processor.video_processor(videos=[video], return_tensors="pt", do_sample_frames=False)
            mask = b.get("pixel_attention_mask")
            out = self.model.model.get_image_features(
                pixel_values=b["pixel_values"].to(self.device, self.dtype),
                pixel_attention_mask=None if mask is None else mask.to(self.device),
            )
            feats.append(torch.cat(list(out.pooler_output)))
        return self._frame_tokens(frames, torch.cat(feats))

    def _visual_block(self, layout: EncodedLayout) -> str:
        from datetime import timedelta

        from transformers.models.smolvlm.processing_smolvlm import _prompt_single_image
        from transformers.models.smolvlm.video_processing_smolvlm import (
            DEFAULT_MEDIA_OUTTRO,
            DEFAULT_VIDEO_INTRO,
            FRAME_TIMESTAMP_MESSAGE,
        )

        try:
            from num2words import num2words
        except ImportError:  # pragma: no cover - a declared dependency
            raise MissingDependencyError(
                "SmolVLM2's video prompt needs the 'num2words' package: pip install num2words"
            ) from None
        p = self.processor
        times = layout.frame_time_s
        duration = timedelta(seconds=int(layout.duration_s or 0))  # encode() always sets it
        prompt = DEFAULT_VIDEO_INTRO.format(frame_count=num2words(len(times)), video_duration=str(duration))
        image = _prompt_single_image(
            self._grid**2,
            fake_token_around_image=p.fake_image_token,
            image_token=p.image_token,
            global_image_token=p.global_image_token,
        )
        for t in times:
            stamp = f"{int(t // 60):02d}:{int(t % 60):02d}"
            prompt += FRAME_TIMESTAMP_MESSAGE.format(timestamp=stamp) + image
        return prompt + DEFAULT_MEDIA_OUTTRO
