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

from videopipe.errors import ModelError
from videopipe.models.base import TransformersVideoLLM
from videopipe.models.contract import ClipLayout, ModelGeometry, clips_of_units

if TYPE_CHECKING:
    import torch

    from videopipe.models.contract import EncodedLayout
    from videopipe.text.timeline import TextLine
    from videopipe.types import Budget, Frames, VisualTokens

__all__ = ["Qwen25VL", "Qwen3VL"]


@dataclass(frozen=True)
class _QwenGeometry(ModelGeometry):
    """A Qwen checkpoint's geometry with its video processor's resize rule: what
    :meth:`decode_size` needs, read once from the config and processor files."""

    patch: int  # vision patch side (px)
    merge: int  # patches per token side (the merger)
    min_pixels: int  # the video processor's pixel limits
    max_pixels: int
    resizes: bool  # the video processor's do_resize
    factor: int  # its patch_size * merge_size (the side a resized frame is a multiple of)

    def decode_size(
        self, height: int, width: int, num_frames: int, budget: Budget | None = None
    ) -> tuple[int, int]:
        """The size the video processor resizes a clip of ``num_frames`` frames of (height,
        width) to (its own ``smart_resize`` with its pixel limits; an odd count is padded to
        the temporal patch first, as ``encode`` does): frames decoded at this size skip the
        processor (see ``pixel_prep``)."""
        tpatch = self.min_frames
        target = self.target_hw(int(height), int(width), num_frames + (-num_frames % tpatch))
        return target if target is not None else (int(height), int(width))

    def target_hw(self, height: int, width: int, num_frames: int) -> tuple[int, int] | None:
        """(h, w) the processor resizes ``num_frames`` frames of (height, width) to; None where
        it would not resize (``do_resize`` off) or refuses the size (it raises then itself)."""
        if not self.resizes:
            return None
        limits = {"factor": self.factor, "min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
        try:
            h, w = self.smart_resize(height, width, num_frames, limits)
        except ValueError:
            return None
        return int(h), int(w)

    def smart_resize(
        self, height: int, width: int, num_frames: int, limits: dict[str, int]
    ) -> tuple[int, int]:
        """The family processor's own ``smart_resize`` with ``limits`` (factor, min/max pixels)."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Qwen25Geometry(_QwenGeometry):
    def smart_resize(
        self, height: int, width: int, num_frames: int, limits: dict[str, int]
    ) -> tuple[int, int]:
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import smart_resize

        # per frame (videopipe passes cap_pixels_per_frame=False: no share of a clip budget)
        return smart_resize(height, width, **limits)


@dataclass(frozen=True)
class _Qwen3Geometry(_QwenGeometry):
    def smart_resize(
        self, height: int, width: int, num_frames: int, limits: dict[str, int]
    ) -> tuple[int, int]:
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

        # the pixel limits are for all frames of a clip together
        return smart_resize(num_frames, height, width, temporal_factor=self.min_frames, **limits)


@dataclass(frozen=True)
class _PixelPlan:
    """What the one-pass pixel path needs from the video processor: the patch layout and
    rescale+normalise as one affine per channel (x * scale + bias)."""

    patch: int
    merge: int
    tpatch: int
    scale: tuple[float, ...]
    bias: tuple[float, ...]

    def affine(self, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        # shaped for the patch-order view of the frames: (t, rows, cols, merge, merge, channel, ...)
        shape = (1, 1, 1, 1, 1, len(self.scale), 1, 1, 1)
        scale = torch.tensor(self.scale, dtype=torch.float32, device=device).view(shape)
        return scale, torch.tensor(self.bias, dtype=torch.float32, device=device).view(shape)


def _pixel_plan(vp: Any, geo: _QwenGeometry, classes: tuple[type, ...]) -> _PixelPlan | str:
    """The :class:`_PixelPlan` of video processor ``vp``, or why its steps are not the ones the
    one-pass path reproduces (then the processor runs)."""
    name = type(vp).__name__
    if type(vp) not in classes:
        return f"video processor {name} is not one the one-pass path reproduces"
    if not (getattr(vp, "do_rescale", False) and getattr(vp, "do_normalize", False)):
        return f"{name} has do_rescale={vp.do_rescale}, do_normalize={vp.do_normalize} (reproduced: both on)"
    layout = (int(vp.patch_size), int(vp.merge_size), int(vp.temporal_patch_size))
    if layout != (geo.patch, geo.merge, geo.min_frames):
        return f"{name} patches {layout} (patch, merge, temporal), the vision tower {geo.patch, geo.merge, geo.min_frames}"
    mean, std = [float(v) for v in vp.image_mean], [float(v) for v in vp.image_std]
    if len(mean) != 3 or len(std) != 3:
        return f"{name} has image_mean {mean} and image_std {std}; one value per RGB channel is reproduced"
    rf = float(vp.rescale_factor)
    # the processor computes (x - mean / rf) / (std / rf): the same affine, x * rf / std - mean / std
    return _PixelPlan(
        patch=layout[0],
        merge=layout[1],
        tpatch=layout[2],
        scale=tuple(rf / s for s in std),
        bias=tuple(-m / s for m, s in zip(mean, std)),
    )


def _buffer(
    scratch: dict[str, torch.Tensor] | None, key: str, shape: tuple[int, ...], dtype: Any, device: Any
) -> torch.Tensor:
    """A ``shape`` tensor: a view of ``scratch[key]`` when that is large enough, else new (and
    kept there, when ``scratch`` is given)."""
    import math

    import torch

    n = math.prod(shape)
    buf = None if scratch is None else scratch.get(key)
    if buf is None or buf.numel() < n or buf.dtype != dtype or buf.device != torch.device(device):
        buf = torch.empty(n, dtype=dtype, device=device)
        if scratch is not None:
            scratch[key] = buf
    return buf[:n].view(shape)


class _QwenVL(TransformersVideoLLM):
    video_marker: ClassVar[str] = "<|video_pad|>"
    # 3-D positions never reach the attention kernels (only the rotary embedding), so gaps
    # cannot be mistaken for packed sequences
    flash_attention_ok: ClassVar[bool] = True
    placeholder_config_key: ClassVar[str] = "video_token_id"
    #: tokens per side of the default frame
    _default_side_tokens: ClassVar[int] = 16

    #: how ``pixel_values_videos`` are built: ``"auto"`` builds them in one pass from the uint8
    #: frames (on the model's device) when the frames are already at the size the processor
    #: would resize them to and its configuration is one that path reproduces, else runs the
    #: processor; ``"processor"`` always runs the processor. ``tokens.meta["pixel_prep"]``
    #: records which ran and ``meta["pixel_prep_reason"]`` why the processor did.
    pixel_prep: str = "auto"

    _geometry: _QwenGeometry
    #: the geometry record of the family (its processor's smart_resize)
    _geometry_class: ClassVar[type[_QwenGeometry]] = _QwenGeometry
    _plan: _PixelPlan | str | None = None
    #: the transformers video processor classes whose steps the one-pass path reproduces
    _processor_class_names: ClassVar[tuple[str, ...]] = ()

    @property
    def _processor_classes(self) -> tuple[type, ...]:
        import transformers

        return tuple(getattr(transformers, n) for n in self._processor_class_names)

    @classmethod
    def _read_geometry(cls, config: Any, processor: Any, *, model_id: str) -> _QwenGeometry:
        vc = config.vision_config
        size = getattr(processor.video_processor, "size", None) or {}
        get = size.get if isinstance(size, Mapping) else (lambda k, d=None: getattr(size, k, d))
        patch, merge = int(vc.patch_size), int(vc.spatial_merge_size)
        vp = processor.video_processor
        return cls._geometry_class(
            model_id=model_id,
            token_px=patch * merge,
            min_frames=int(vc.temporal_patch_size),
            mixed_resolution=cls.mixed_resolution,
            patch=patch,
            merge=merge,
            min_pixels=int(get("shortest_edge") or 0),
            max_pixels=int(get("longest_edge") or 0),
            resizes=bool(getattr(vp, "do_resize", True)),
            factor=int(getattr(vp, "patch_size", patch)) * int(getattr(vp, "merge_size", merge)),
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
    def _pixel_plan(self) -> _PixelPlan | str:
        """How to build ``pixel_values_videos`` without the processor, or why not (the
        processor's configuration has something the one-pass path does not reproduce)."""
        if self._plan is not None:
            return self._plan
        self._plan = plan = _pixel_plan(
            self.processor.video_processor, self._geometry, self._processor_classes
        )
        return plan

    def _pixels_reason(self, frames: Frames) -> str | None:
        """None when :meth:`_fused_pixels` reproduces the processor for ``frames``, else why not."""
        if self.pixel_prep not in ("auto", "processor"):
            raise ModelError(f"pixel_prep must be 'auto' or 'processor', got {self.pixel_prep!r}")
        if self.pixel_prep == "processor":
            return "pixel_prep is 'processor'"
        plan = self._pixel_plan()
        if isinstance(plan, str):
            return plan
        n = len(frames) + (-len(frames) % plan.tpatch)
        target = self._geometry.target_hw(frames.height, frames.width, n)
        if target is None:
            return "the processor does not resize (do_resize off) or refuses this frame size"
        if target != (frames.height, frames.width):
            return f"frames are {frames.height}x{frames.width}, the processor resizes them to {target}"
        return None

    def _fused_pixels(
        self,
        data: torch.Tensor,
        start: int,
        stop: int,
        plan: _PixelPlan,
        scratch: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``pixel_values_videos`` rows of frames ``start:stop`` (whole temporal patches; frames
        past the end repeat the last frame, the processor's padding), in one pass: the uint8
        frames are moved to the model's device, and one kernel reads them in the processor's
        patch order (temporal patch, merged 2x2 block, channel, frame in patch, pixel row, pixel
        col) and writes them in the model's dtype with rescale and normalise fused into one
        affine per channel (computed in float32, as the processor computes).

        ``scratch``: buffers reused from one call to the next (the rows returned by the previous
        call are overwritten: a caller passes it only when it is done with them)."""
        import torch

        p, m, tp = plan.patch, plan.merge, plan.tpatch
        chunk = data[start:stop]
        if stop > data.shape[0]:
            extra = stop - data.shape[0]
            chunk = torch.cat([chunk, data[-1:].expand(extra, *data.shape[1:])])
        f, h, w, c = chunk.shape
        x = chunk.to(self.device, non_blocking=True)
        src = x.view(f // tp, tp, h // (p * m), m, p, w // (p * m), m, p, c).permute(
            0, 2, 5, 3, 6, 8, 1, 4, 7
        )
        rows = f // tp * (h // p) * (w // p)
        scale, bias = plan.affine(self.device)  # broadcast over the channel axis of ``src``
        out = _buffer(scratch, "pixels", (rows, c * tp * p * p), self.dtype, self.device)
        # the one pass: read in patch order, convert, rescale and normalise, write
        torch.addcmul(bias, src, scale, out=out.view(src.shape))
        return out

    def _encode(self, frames: Frames) -> VisualTokens:
        import time

        import torch

        from videopipe.types import VisualTokens

        geo = self._geometry
        tpatch, merge = geo.min_frames, geo.merge
        n = len(frames)
        pad = -n % tpatch
        g = (n + pad) // tpatch
        t0 = time.perf_counter()
        reason = self._pixels_reason(frames)
        if reason is None:
            plan = self._pixel_plan()
            assert not isinstance(plan, str)
            gh, gw = frames.height // plan.patch, frames.width // plan.patch
            data = frames.data
            scratch: dict[str, torch.Tensor] = {}  # one chunk's buffers, reused chunk after chunk

            def pixels_of(s: int, e: int) -> torch.Tensor:
                return self._fused_pixels(data, s * tpatch, e * tpatch, plan, scratch)

        else:
            # one processor call per clip: its resize decision depends on the whole clip
            # (Qwen3-VL's pixel limits are per video)
            video = frames.data
            if pad:
                video = torch.cat([video, video[-1:].expand(pad, *video.shape[1:])])
            batch = self.processor.video_processor(
                videos=[video.permute(0, 3, 1, 2)], return_tensors="pt", **self._video_kwargs()
            )
            _, gh, gw = (int(x) for x in batch["video_grid_thw"][0])
            pixels = batch["pixel_values_videos"]

            def pixels_of(s: int, e: int) -> torch.Tensor:
                return pixels[s * gh * gw : e * gh * gw].to(self.device)

        pixel_s, vision_s = time.perf_counter() - t0, 0.0
        # the vision tower runs on groups of temporal patches (its attention never crosses a
        # temporal patch, so batching does not change the result); the fused path builds each
        # group's pixels just before, so no float copy of the whole clip is ever held
        step = max(1, self.frames_per_batch // tpatch)
        feats: list[torch.Tensor] = []
        deep: list[torch.Tensor] = []
        for s in range(0, g, step):
            e = min(g, s + step)
            t1 = time.perf_counter()
            pv = pixels_of(s, e)
            t2 = time.perf_counter()
            thw = torch.tensor([[e - s, gh, gw]], device=self.device)
            out = self.model.model.get_video_features(pixel_values_videos=pv, video_grid_thw=thw)
            del pv
            feats.append(torch.cat(list(out.pooler_output)))
            ds = getattr(out, "deepstack_features", None)
            if ds:
                deep.append(torch.stack([torch.cat(list(layer)) for layer in ds], dim=1))
            pixel_s += t2 - t1
            vision_s += time.perf_counter() - t2
            self._encoded((e - s) * tpatch)
        h, w = gh // merge, gw // merge
        pts, idx = frames.pts_s, frames.indices
        if pad:
            pts, idx = torch.cat([pts, pts[-1:].expand(pad)]), torch.cat([idx, idx[-1:].expand(pad)])
        unit_time = ((pts.view(g, tpatch)[:, 0] + pts.view(g, tpatch)[:, -1]) / 2).tolist()
        unit_frame = idx.view(g, tpatch)[:, 0].tolist()
        real = frames.pts_s
        spacing = float((real[-1] - real[0]) / (n - 1)) if n > 1 and real[-1] > real[0] else 1.0
        layout = self._new_layout(
            unit_frame_idx=unit_frame,
            unit_time_s=unit_time,
            unit_grid_hw=[(h, w)] * g,
            frame_idx=frames.indices.tolist(),
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
            unit_clip_ids=clips_of_units(frames.clip_array, tpatch, g),
        )
        # diagnostics only (seconds are host clocks: on CUDA the kernels run asynchronously)
        meta = {
            "temporal_patch_size": tpatch,
            "spatial_merge_size": merge,
            "patch_size": geo.patch,
            "pixel_prep": "fused" if reason is None else "processor",
            "pixel_prep_reason": reason,
            "seconds": {"pixels": round(pixel_s, 6), "vision": round(vision_s, 6)},
        }
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

    _processor_class_names: ClassVar[tuple[str, ...]] = ("Qwen2VLVideoProcessor",)
    _geometry_class: ClassVar[type[_QwenGeometry]] = _Qwen25Geometry

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

    _processor_class_names: ClassVar[tuple[str, ...]] = ("Qwen3VLVideoProcessor",)
    _geometry_class: ClassVar[type[_QwenGeometry]] = _Qwen3Geometry

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

    def _lm_kwargs_from(self, lm_kwargs: Mapping[str, Any], start: int) -> dict[str, Any]:
        mask = lm_kwargs.get("visual_pos_masks")
        if not start or mask is None:
            return dict(lm_kwargs)
        if not bool(mask[:, start:].any()):  # every visual row is in the reused prefix
            return {}
        before = int(mask[:, :start].sum())
        deep = [d[before:] for d in lm_kwargs["deepstack_visual_embeds"]]
        return {"visual_pos_masks": mask[:, start:], "deepstack_visual_embeds": deep}

    def _visual_row_extras(self, lm_kwargs: Mapping[str, Any]) -> torch.Tensor | None:
        import torch

        deep = lm_kwargs.get("deepstack_visual_embeds")
        return None if deep is None else torch.cat(list(deep), -1)
