"""``space_aware``: Spatial-MLLM's space-aware frame sampling, with a pluggable cell provider.

Spatial-MLLM voxelises the 3D points each candidate frame sees (from a geometry model) into
"space cells" and picks frames greedily by maximum coverage: each step adds the frame that
covers the most cells not yet covered, until the frame budget is spent or no frame adds
anything (here: fewer new cells than ``min_gain_ratio`` x the cells of an average frame, so
that noise flipping a quantisation bin does not count as new space). The selection follows from the cells; the cells come from a :class:`CellProvider`
(``cells(frames) -> list[set[int]]``).

Default provider, :class:`PatchCodeCells` (no model): each frame is cut into a
``grid`` x ``grid`` patch grid; each patch is described by its mean colour (hue/saturation/
value, quantised) and its texture level (quantised gray standard deviation), and the cell
is (vertical band, code). The same surface seen again from a similar viewpoint produces the
same cells and so adds no coverage, while new surfaces add new cells — a 2D, appearance-
based stand-in for "which part of the space is visible", which needs only the low-resolution
frames already decoded. Why not camera-motion cues (optical flow -> camera track -> mosaic
cells)? They break at every cut and with moving objects, and need dense decoding to
track motion; the patch codes need one frame each.

Geometry provider: Spatial-MLLM uses VGGT. transformers 5.23 (the pinned version) has no
VGGT model (the port, huggingface/transformers PR #39987, is not merged), so no VGGT provider
ships; a provider is any object with ``cells(frames: uint8 [N,H,W,3]) -> list[set[int]]``
passed as ``cells=...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from videopipe.errors import ConfigError
from videopipe.samplers._base import BaseSampler, SamplerInput
from videopipe.samplers._scoring import CandidateOptions
from videopipe.samplers.frame_times import keyframe_indices
from videopipe.samplers.probes import Probe
from videopipe.samplers.selections import single_frame_clips
from videopipe.samplers.sizing import fit_size, frame_budget
from videopipe.types import Selection
from videopipe.validate import positive


@runtime_checkable
class CellProvider(Protocol):
    def cells(self, frames: np.ndarray) -> list[set[int]]:
        """uint8 [N, H, W, 3] RGB frames -> the set of space cells each frame covers."""
        ...


@dataclass(frozen=True)
class PatchCodeCells:
    """Quantised patch-appearance cells (see the module docstring)."""

    grid: int = 8
    bands: int = 3
    hue_bins: int = 12
    sat_bins: int = 3
    val_bins: int = 4
    tex_bins: int = 3

    def __post_init__(self) -> None:
        for name in ("grid", "bands", "hue_bins", "sat_bins", "val_bins", "tex_bins"):
            positive(f"PatchCodeCells {name}", getattr(self, name))
        if self.bands > self.grid:
            raise ConfigError(f"PatchCodeCells bands ({self.bands}) must be <= grid ({self.grid})")

    def cells(self, frames: np.ndarray) -> list[set[int]]:
        import cv2

        g = self.grid
        out: list[set[int]] = []
        for fr in frames:
            small = cv2.resize(np.ascontiguousarray(fr), (g * 4, g * 4), interpolation=cv2.INTER_AREA)
            hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
            gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
            hsv_p = hsv.reshape(g, 4, g, 4, 3).mean(axis=(1, 3))
            std_p = gray.reshape(g, 4, g, 4).std(axis=(1, 3))
            h = np.minimum((hsv_p[..., 0] * self.hue_bins / 180).astype(int), self.hue_bins - 1)
            s = np.minimum((hsv_p[..., 1] * self.sat_bins / 256).astype(int), self.sat_bins - 1)
            v = np.minimum((hsv_p[..., 2] * self.val_bins / 256).astype(int), self.val_bins - 1)
            t = np.minimum((std_p / 24.0).astype(int), self.tex_bins - 1)
            h = np.where(s == 0, 0, h)  # hue is meaningless for grey patches
            code = ((h * self.sat_bins + s) * self.val_bins + v) * self.tex_bins + t
            band = (np.arange(g) * self.bands // g)[:, None].repeat(g, axis=1)
            ncode = self.hue_bins * self.sat_bins * self.val_bins * self.tex_bins
            out.append(set((band * ncode + code).ravel().tolist()))
        return out


def greedy_cover(cells: Sequence[set[int]], k: int, *, min_gain: int = 1) -> tuple[list[int], list[int]]:
    """Greedy maximum coverage: up to ``k`` sets, each adding the most uncovered cells (ties:
    earliest), stopping when the best gain is below ``min_gain``. Returns (chosen, gains)."""
    covered: set[int] = set()
    chosen: list[int] = []
    gains: list[int] = []
    remaining = set(range(len(cells)))
    while len(chosen) < k and remaining:
        best, gain = -1, -1
        for i in sorted(remaining):
            g = len(cells[i] - covered)
            if g > gain:
                best, gain = i, g
        if gain < min_gain:
            break
        chosen.append(best)
        gains.append(gain)
        covered |= cells[best]
        remaining.discard(best)
    return chosen, gains


@dataclass(frozen=True)
class SpaceAwareConfig(CandidateOptions):
    sampler_name = "space_aware"
    embed_px: int = 96  # candidates are decoded at this size for the cell provider
    min_gain_ratio: float = 0.05
    cells: CellProvider = field(default_factory=PatchCodeCells)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("space_aware min_gain_ratio", self.min_gain_ratio, allow_zero=True)
        if not isinstance(self.cells, CellProvider):
            raise ConfigError(
                f"space_aware cells={self.cells!r} is not a cell provider (needs .cells(frames) -> list[set[int]])"
            )


class SpaceAwareSampler(BaseSampler[SpaceAwareConfig]):
    """Greedy maximum coverage of space cells; see the module docstring."""

    name = "space_aware"

    def select(self, job: SamplerInput) -> Selection:
        video, budget, times = job.video, job.budget, job.times
        cfg = self.config
        n = frame_budget(video, budget)
        keyframes = keyframe_indices(video, times)
        cands = cfg.choose(video, times, keyframes)
        idx, interval = cands.indices, cands.interval_s
        probe = Probe(video, cfg.embed_px)
        cells: list[set[int]] = []
        for s in range(0, len(idx), 128):
            cells += cfg.cells.cells(probe.frames(idx[s : s + 128]))
        # "no gain": fewer new cells than a small fraction of what a frame covers (noise, not new space)
        mean_cells = float(np.mean([len(c) for c in cells])) if cells else 0.0
        min_gain = max(1, int(np.ceil(cfg.min_gain_ratio * mean_cells)))
        chosen, gains = greedy_cover(cells, n, min_gain=min_gain)
        if not chosen:  # every candidate covers nothing: keep the first frame
            chosen, gains = [0], [0]
        frames = sorted(idx[c] for c in chosen)
        universe = set().union(*cells) if cells else set()
        covered = set().union(*(cells[c] for c in chosen))
        meta = {
            "candidates": len(idx),
            "candidate_interval_s": interval,
            **cands.meta(),
            "cells_total": len(universe),
            "cells_covered": len(covered),
            "gains": gains,
            "min_gain": min_gain,
            "stopped": "budget" if len(chosen) >= n else "no gain",
        }
        return Selection(
            single_frame_clips(frames, times, size=fit_size(video, budget, len(frames))),
            sampler=self.name,
            frames_decoded=probe.decoded,
            meta=meta,
        )
