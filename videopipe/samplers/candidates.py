"""Candidate frames for the content-aware samplers (keyclip, query, space_aware): a time grid
snapped to cheap frames, plus frames around packet-size spikes (content changes inside long
groups of pictures) within a decode budget.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader
from videopipe.samplers.frame_times import decode_cost, index_at, snap_targets
from videopipe.validate import choice

CANDIDATE_MODES = ("auto", "grid")


SPIKE_BUDGET_FRAMES = 2000  # default decode budget for packet-size spike candidates


SPIKE_GRID_SHARE = 0.25  # ... and never more than this share of what the exact grid decodes


@dataclass(frozen=True)
class Candidates:
    """Frames to score (sorted unique), the nominal grid interval, and how many of the frames
    came from packet-size spikes (``from_spikes``, see ``_packets``): ``spikes`` detected,
    ``spike_decode_frames`` decoded for them beyond the other candidates."""

    indices: list[int]
    interval_s: float
    from_spikes: int = 0
    spikes: int = 0
    spike_decode_frames: int = 0

    def meta(self) -> dict[str, int]:
        return {
            "candidates_from_spikes": self.from_spikes,
            "packet_spikes": self.spikes,
            "spike_decode_frames": self.spike_decode_frames,
        }


def candidate_grid(
    video: VideoReader, times: np.ndarray, keyframes: Sequence[int], **options: Any
) -> tuple[list[int], float]:
    """(indices, interval) of :func:`candidate_frames` with the same arguments (kept for
    callers that need no spike counts)."""
    c = candidate_frames(video, times, keyframes, **options)
    return c.indices, c.interval_s


def candidate_frames(
    video: VideoReader,
    times: np.ndarray,
    keyframes: Sequence[int],
    *,
    rate_hz: float,
    max_candidates: int,
    mode: str = "auto",
    max_gap_s: float = 12.0,
    max_grid_decode: int = 3000,
    spike_budget_frames: int = SPIKE_BUDGET_FRAMES,
) -> Candidates:
    """Frames to score: about ``rate_hz`` per second (at most ``max_candidates``), chosen so
    that each decodes cheaply.

    ``auto``: when the container's keyframes are at least as dense as the grid, grid points
    move to the nearest keyframe (within half an interval); when they are sparser, the
    keyframes *are* the candidates (evenly thinned to ``max_candidates``), plus exact frames
    only inside keyframe gaps longer than ``max_gap_s``, plus the frames around packet-size
    spikes (content changes between keyframes, found without decoding; see ``_packets``),
    cheapest first, while the frames decoded for them stay within ``spike_budget_frames``
    and a quarter of what the exact grid would decode (0 turns them off). Every keyframe
    candidate decodes alone, at the price of a coarser grid on videos with long GOPs; the
    spikes put candidates where that grid would miss a short event. ``grid``: the exact grid, with the quarter-interval keyframe snapping of ``uniform``
    (decodes about every GOP once). ``auto`` also takes the exact grid whenever decoding it
    costs at most ``max_grid_decode`` frames (short videos)."""
    choice("candidates", mode, CANDIDATE_MODES)
    n = len(times)
    if n == 0:
        return Candidates(indices=[], interval_s=0.0)
    step = float(np.median(np.diff(times))) if n > 1 else 0.0
    duration = float(times[-1] - times[0]) + step
    want = max(1, min(max_candidates, n, math.ceil(duration * rate_hz)))
    interval = duration / want
    targets = [float(times[0]) + (k + 0.5) * interval for k in range(want)]
    grid = snap_targets(targets, times, keyframes, interval_s=interval, mode="auto").indices
    grid_cost = decode_cost(grid, keyframes)
    if mode == "grid" or len(keyframes) < 2 or grid_cost <= max_grid_decode:
        return Candidates(indices=grid, interval_s=interval)
    spacing = duration / len(keyframes)
    if spacing <= interval:
        snap = snap_targets(targets, times, keyframes, interval_s=2 * interval, mode="auto")
        return Candidates(indices=snap.indices, interval_s=interval)
    picks = list(keyframes)
    if len(picks) > max_candidates:
        keep = np.linspace(0, len(picks) - 1, max_candidates).round().astype(int)
        picks = [picks[i] for i in sorted(set(keep.tolist()))]
    chosen = set(picks)
    edges = [float(times[k]) for k in picks] + [float(times[0]) + duration]
    for a, b in zip(edges, edges[1:]):
        if b - a > max_gap_s:
            m = int(math.ceil((b - a) / max_gap_s))
            for j in range(1, m):
                chosen.add(index_at(times, a + j * (b - a) / m))
    base = sorted(chosen)
    spike_budget = min(spike_budget_frames, int(SPIKE_GRID_SHARE * grid_cost))
    room = max(0, max_candidates - len(chosen))  # max_candidates bounds spike candidates too
    spiked, nspikes, spent = _spike_frames(video, times, keyframes, base, spike_budget, room)
    return Candidates(
        indices=sorted(chosen | set(spiked)),
        interval_s=max(interval, spacing),
        from_spikes=len(spiked),
        spikes=nspikes,
        spike_decode_frames=spent,
    )


def _spike_frames(
    video: VideoReader | None,
    times: np.ndarray,
    keyframes: Sequence[int],
    base: Sequence[int],
    budget_frames: int,
    max_added: int | None = None,
) -> tuple[list[int], int, int]:
    """(frames added around packet-size spikes, spikes detected, frames decoded for them);
    nothing when the reader does not know its packet sizes."""
    if budget_frames <= 0 or max_added == 0 or video is None:  # None: no reader (grid only)
        return [], 0, 0
    sizes = video.packet_sizes()
    if sizes is None or len(sizes) != len(times):
        return [], 0, 0
    from videopipe.samplers._packets import size_spikes, spike_candidates

    fps = (len(times) - 1) / float(times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    spikes = size_spikes(sizes, keyframes, fps)
    added, spent = spike_candidates(
        spikes, base, keyframes, fps, len(times), budget_frames=budget_frames, max_added=max_added
    )
    return added, int(spikes.indices.shape[0]), spent
