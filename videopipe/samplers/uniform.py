"""``uniform``: evenly spaced frames, the baseline every other sampler is compared with.

Frame count: the budget's frame limit (``Budget.num_frames`` / token limit at ``size_px``), or
``fps`` x duration clamped to ``[min_frames, max_frames]`` and then to the budget, or the
qwen-vl-utils ``smart_nframes`` rule (``rule="qwen"``: fps 2.0, a multiple of 2, 4..768).

Placement: ``midpoint`` (the centre of each of N equal segments) or ``linspace`` (N indices
from the first to the last frame, rounded: what qwen-vl-utils and most video LLM repos do).

Keyframe snapping (``snap``): decoding an arbitrary frame means decoding from the keyframe
before it (about GOP/2 frames on average), while a keyframe decodes alone. With
``snap="auto"`` (default) a sample moves onto the nearest container keyframe when that
keyframe lies within a quarter of the sampling interval of the target time; ``"exact"``
never moves; ``"keyframe"`` always takes the nearest keyframe not yet taken. The actual
timestamps are what the Selection records; the targets and offsets are in ``meta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from videopipe.protocols import VideoReader
from videopipe.samplers._base import BaseSampler, SamplerInput
from videopipe.samplers.frame_times import SNAP_MODES, keyframe_indices, snap_targets
from videopipe.samplers.selections import single_frame_clips
from videopipe.samplers.sizing import frame_budget
from videopipe.types import Budget, Selection
from videopipe.validate import choice, positive

PLACEMENTS = ("midpoint", "linspace")
RULES = ("budget", "fps", "qwen")

# qwen-vl-utils constants (vision_process.py)
QWEN_FPS = 2.0
QWEN_FRAME_FACTOR = 2
QWEN_MIN_FRAMES = 4
QWEN_MAX_FRAMES = 768


def smart_nframes(
    total_frames: int,
    video_fps: float,
    *,
    fps: float = QWEN_FPS,
    min_frames: int = QWEN_MIN_FRAMES,
    max_frames: int = QWEN_MAX_FRAMES,
    nframes: int | None = None,
) -> int:
    """The frame count qwen-vl-utils' ``smart_nframes`` picks (same rule, same rounding).

    With ``nframes``: that number rounded to a multiple of 2. Else ``fps`` frames per second of
    video, clamped to [min_frames rounded up, min(max_frames, total_frames) rounded down] and
    rounded down to a multiple of 2. qwen-vl-utils raises when the result is outside
    [2, total_frames]; here that only happens for videos under 2 frames, which the sampler
    handles before calling this."""
    f = QWEN_FRAME_FACTOR
    if nframes is not None:
        n = round(nframes / f) * f
    else:
        lo = math.ceil(min_frames / f) * f
        hi = math.floor(min(max_frames, total_frames) / f) * f
        n = total_frames / video_fps * fps
        n = min(min(max(n, lo), hi), total_frames)
        n = math.floor(n / f) * f
    if not (f <= n <= total_frames):
        raise ValueError(f"nframes should be in [{f}, {total_frames}], got {n}")
    return int(n)


@dataclass(frozen=True)
class UniformConfig:
    """rule:      "budget" (the budget's frame count), "fps" (fps x duration) or "qwen"
    (qwen-vl-utils smart_nframes with fps, default 2.0)
    fps:       frames per second of video for rule fps/qwen
    min_frames, max_frames: clamp for rule fps/qwen
    placement: "midpoint" or "linspace"
    snap:      "auto", "exact" or "keyframe" (see module doc)"""

    rule: str = "budget"
    fps: float | None = None
    min_frames: int = 4
    max_frames: int = 768
    placement: str = "midpoint"
    snap: str = "auto"

    def __post_init__(self) -> None:
        choice("uniform rule", self.rule, RULES)
        choice("uniform placement", self.placement, PLACEMENTS)
        choice("uniform snap", self.snap, SNAP_MODES)
        positive("uniform fps", self.fps, allow_none=True)
        positive("uniform min_frames", self.min_frames)
        positive("uniform max_frames", self.max_frames)
        if self.min_frames > self.max_frames:
            raise ValueError(f"uniform min_frames {self.min_frames} > max_frames {self.max_frames}")
        if self.rule == "fps" and self.fps is None:
            from videopipe.errors import ConfigError

            raise ConfigError("uniform rule='fps' needs fps=<frames per second>")


class UniformSampler(BaseSampler[UniformConfig]):
    """Evenly spaced frames; see the module docstring."""

    name = "uniform"

    def count(self, video: VideoReader, budget: Budget) -> int:
        """How many frames this sampler takes from ``video`` under ``budget``."""
        c, info = self.config, video.info
        cap = frame_budget(video, budget)
        n_total = info.num_frames
        if c.rule == "budget":
            n = cap
        elif c.rule == "fps":
            assert c.fps is not None
            n = min(max(round(info.duration_s * c.fps), c.min_frames), c.max_frames)
        else:
            n = smart_nframes(
                n_total, info.fps, fps=c.fps or QWEN_FPS, min_frames=c.min_frames, max_frames=c.max_frames
            )
            if n > cap:  # the budget wins; stay a multiple of 2 when possible
                n = cap - cap % QWEN_FRAME_FACTOR if cap >= QWEN_FRAME_FACTOR else cap
        return max(1, min(n, cap, n_total))

    def takes_every_frame(self, video: VideoReader, budget: Budget, times: np.ndarray) -> bool:
        return self.count(video, budget) >= len(times)

    def targets(self, times: np.ndarray, n: int) -> tuple[list[float], float]:
        """Target times and the sampling interval (s)."""
        total = len(times)
        step = float(np.median(np.diff(times))) if total > 1 else 0.0
        duration = float(times[-1] - times[0]) + step
        interval = duration / n
        if self.config.placement == "linspace":
            idx = np.linspace(0, total - 1, n).round().astype(int)
            return [float(times[i]) for i in idx], interval
        return [float(times[0]) + (k + 0.5) * interval for k in range(n)], interval

    def select(self, job: SamplerInput) -> Selection:
        video, budget, times = job.video, job.budget, job.times
        n = self.count(video, budget)
        targets, interval = self.targets(times, n)
        keyframes = keyframe_indices(video, times) if self.config.snap != "exact" else []
        snap = snap_targets(targets, times, keyframes, interval_s=interval, mode=self.config.snap)
        meta = {
            "rule": self.config.rule,
            "placement": self.config.placement,
            "snap": self.config.snap,
            "interval_s": interval,
            "tolerance_s": snap.tolerance_s,
            "snapped": snap.snapped,
            "max_offset_s": snap.max_offset_s,
            "target_times_s": snap.targets_s,
            "keyframes": len(keyframes),
        }
        return Selection(
            single_frame_clips(snap.indices, times), sampler=self.name, frames_decoded=0, meta=meta
        )
