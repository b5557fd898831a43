"""Helpers shared by the samplers: frame/time mapping, keyframe snapping, candidate grids,
cheap low-resolution probes and building a :class:`Selection`.

Everything here works through the :class:`~videopipe.protocols.VideoReader` protocol only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from videopipe.errors import ConfigError
from videopipe.types import Budget, Clip, Selection

if TYPE_CHECKING:
    from videopipe.protocols import VideoReader
    from videopipe.types import VideoInfo

SNAP_MODES = ("auto", "exact", "keyframe")


# ----------------------------------------------------------------------------------------
# frame <-> time
# ----------------------------------------------------------------------------------------
def _fps(info: VideoInfo) -> float:
    if info.fps and info.fps > 0:
        return float(info.fps)
    if info.duration_s > 0 and info.num_frames > 0:
        return info.num_frames / info.duration_s
    return 25.0


def frame_times(video: VideoReader) -> np.ndarray:
    """Presentation time (s) of every frame, from the reader's frame index when it exposes one
    (``pts_s``), else ``i / fps`` (constant frame rate)."""
    pts = getattr(video, "pts_s", None)  # the decode package's readers expose their frame table
    if pts is not None:
        t = np.asarray(pts() if callable(pts) else pts, dtype=np.float64)
        if t.ndim == 1 and len(t) == video.info.num_frames:
            return t
    info = video.info
    return np.arange(info.num_frames, dtype=np.float64) / _fps(info)


def index_at(times: np.ndarray, t: float) -> int:
    """Index of the frame shown at time ``t`` (the nearest frame start)."""
    k = int(np.searchsorted(times, t))
    if k <= 0:
        return 0
    if k >= len(times):
        return len(times) - 1
    return k if times[k] - t <= t - times[k - 1] else k - 1


def keyframe_indices(video: VideoReader, times: np.ndarray) -> list[int]:
    """Frame indices of the container's keyframes (sorted, unique)."""
    try:
        kt = video.keyframe_times()
    except (NotImplementedError, AttributeError):
        return []
    return sorted({index_at(times, float(t)) for t in kt})


# ----------------------------------------------------------------------------------------
# budget
# ----------------------------------------------------------------------------------------
def frame_budget(video: VideoReader, budget: Budget) -> int:
    """How many frames at ``budget.size_px`` fit in the frame and token budget (>= 1 when the
    video has frames, even if one frame is over the token budget: the caller shrinks it)."""
    info = video.info
    h, w = budget.frame_size(info.height or budget.size_px, info.width or budget.size_px)
    return max(1, budget.max_frames_for(h, w))


def default_size(video: VideoReader, budget: Budget) -> tuple[int, int]:
    info = video.info
    return budget.frame_size(info.height or budget.size_px, info.width or budget.size_px)


def size_for_tokens(
    video: VideoReader, budget: Budget, tokens_per_frame: float, *, min_short_px: int | None = None
) -> tuple[int, int] | None:
    """The largest frame size (shorter side a multiple of ``token_px``, at most ``size_px``) whose
    token count is <= ``tokens_per_frame``; None when even the smallest allowed size is over."""
    info = video.info
    hh, ww = info.height or budget.size_px, info.width or budget.size_px
    s = budget.size_px - budget.size_px % budget.token_px or budget.token_px
    lo = min(min_short_px or budget.token_px, s)  # size_px itself may not be a multiple of token_px
    while s >= lo:
        h, w = budget.frame_size(hh, ww, s)
        if budget.tokens_per_frame(h, w) <= tokens_per_frame:
            return h, w
        s -= budget.token_px
    return None


# ----------------------------------------------------------------------------------------
# keyframe snapping
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapped:
    indices: list[int]
    targets_s: list[float]
    snapped: int  # how many samples were moved onto a keyframe
    max_offset_s: float  # largest |actual - target|
    tolerance_s: float


def snap_targets(
    targets_s: Sequence[float],
    times: np.ndarray,
    keyframes: Sequence[int],
    *,
    interval_s: float,
    mode: str = "auto",
) -> Snapped:
    """Map target times to frames.

    ``exact``: the frame shown at each target. ``auto``: the nearest keyframe when it lies within
    a quarter of ``interval_s`` of the target (decoding a keyframe needs no other frame), else
    the exact frame. ``keyframe``: always the nearest keyframe, exact frame only when that
    keyframe is already taken. A frame is never taken twice (ties fall back to exact, then to the
    nearest free neighbour)."""
    if mode not in SNAP_MODES:
        raise ConfigError(f"snap={mode!r} is not one of {', '.join(SNAP_MODES)}")
    tol = max(0.0, interval_s / 4.0)
    ktimes = [float(times[k]) for k in keyframes]
    used: set[int] = set()
    pairs: list[tuple[int, float]] = []
    snapped = 0
    for t in targets_s:
        exact = index_at(times, t)
        pick: int | None = exact
        if mode != "exact" and ktimes:
            j = bisect.bisect_left(ktimes, t)
            near = [c for c in (j - 1, j) if 0 <= c < len(ktimes)]
            best = min(near, key=lambda c: abs(ktimes[c] - t))
            kf = keyframes[best]
            if kf not in used and (mode == "keyframe" or abs(ktimes[best] - t) <= tol + 1e-9):
                pick = kf
        if pick in used:
            pick = _free_neighbour(exact, used, len(times))
            if pick is None:
                continue
        if pick != exact:
            snapped += 1
        used.add(pick)
        pairs.append((pick, float(t)))
    pairs.sort()
    offs = [abs(float(times[i]) - t) for i, t in pairs]
    return Snapped([i for i, _ in pairs], [t for _, t in pairs], snapped, max(offs, default=0.0), tol)


def decode_cost(indices: Sequence[int], keyframes: Sequence[int]) -> int:
    """Frames a seek-to-keyframe-and-decode-forward decoder decodes to return ``indices``:
    from the keyframe before each frame, continuing without a seek inside one GOP."""
    keys = sorted(keyframes) or [0]
    total, pos = 0, -1
    for i in sorted(indices):
        k = keys[max(0, bisect.bisect_right(keys, i) - 1)]
        total += i - pos if k <= pos < i else i - k + 1
        pos = i
    return total


def _free_neighbour(i: int, used: set[int], n: int) -> int | None:
    for d in range(n):
        for c in (i + d, i - d):
            if 0 <= c < n and c not in used:
                return c
    return None


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
        return Candidates([], 0.0)
    step = float(np.median(np.diff(times))) if n > 1 else 0.0
    duration = float(times[-1] - times[0]) + step
    want = max(1, min(max_candidates, n, math.ceil(duration * rate_hz)))
    interval = duration / want
    targets = [float(times[0]) + (k + 0.5) * interval for k in range(want)]
    grid = snap_targets(targets, times, keyframes, interval_s=interval, mode="auto").indices
    grid_cost = decode_cost(grid, keyframes)
    if mode == "grid" or len(keyframes) < 2 or grid_cost <= max_grid_decode:
        return Candidates(grid, interval)
    spacing = duration / len(keyframes)
    if spacing <= interval:
        snap = snap_targets(targets, times, keyframes, interval_s=2 * interval, mode="auto")
        return Candidates(snap.indices, interval)
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
    return Candidates(sorted(chosen | set(spiked)), max(interval, spacing), len(spiked), nspikes, spent)


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
    get = getattr(video, "packet_sizes", None)
    if budget_frames <= 0 or get is None or max_added == 0:
        return [], 0, 0
    sizes = get()
    if sizes is None or len(sizes) != len(times):
        return [], 0, 0
    from videopipe.samplers._packets import size_spikes, spike_candidates

    fps = (len(times) - 1) / float(times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    spikes = size_spikes(sizes, keyframes, fps)
    added, spent = spike_candidates(
        spikes, base, keyframes, fps, len(times), budget_frames=budget_frames, max_added=max_added
    )
    return added, int(spikes.indices.shape[0]), spent


# ----------------------------------------------------------------------------------------
# cheap probes
# ----------------------------------------------------------------------------------------
class Probe:
    """Decodes frames at low resolution and counts them (``decoded``)."""

    def __init__(self, video: VideoReader, size_px: int) -> None:
        self.video = video
        self.size_px = size_px
        self.decoded = 0

    def frames(self, indices: Sequence[int], size_px: int | None = None) -> np.ndarray:
        """uint8 [N, h, w, 3] for ``indices`` (sorted), decoded at ``size_px`` shorter side."""
        if not len(indices):
            return np.zeros((0, 1, 1, 3), np.uint8)
        f = self.video.frames_at(list(indices), size=size_px or self.size_px)
        self.decoded += len(f)
        return f.array


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


# ----------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------
def single_frame_clips(
    indices: Iterable[int], times: np.ndarray, *, size: tuple[int, int] | None = None
) -> tuple[Clip, ...]:
    idx = sorted(set(int(i) for i in indices))
    out = []
    for i in idx:
        t = float(times[i])
        out.append(Clip(start_s=t, end_s=t, indices=(i,), times_s=(t,), size=size))
    return tuple(out)


def all_frames_selection(video: VideoReader, times: np.ndarray, name: str) -> Selection:
    """Every frame of a video shorter than the budget, as one clip."""
    n = len(times)
    clip = Clip(
        start_s=float(times[0]),
        end_s=float(times[-1]),
        indices=tuple(range(n)),
        times_s=tuple(float(t) for t in times),
    )
    return Selection((clip,), sampler=name, frames_decoded=0, meta={"all_frames": True})


def check_video(video: VideoReader, name: str) -> np.ndarray:
    """Frame times of ``video``; raise a clear error when it has no frames."""
    from videopipe.errors import DecodeError

    times = frame_times(video)
    if len(times) == 0:
        raise DecodeError(f"{video.info.path}: the video has no frames; {name} sampler has nothing to pick")
    return times


def positive(name: str, value: float | int | None, *, allow_none: bool = False, zero: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        raise ConfigError(f"{name} must be set")
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name} must be {'>= 0' if zero else '> 0'}, got {value}")


def choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(map(str, allowed))}")


def fit_size(video: VideoReader, budget: Budget, n: int) -> tuple[int, int] | None:
    """None when ``n`` frames at the default size fit the token budget, else the largest size
    that does (the token budget wins over ``size_px``)."""
    if budget.max_tokens is None or n <= 0:
        return None
    full = default_size(video, budget)
    if n * budget.tokens_per_frame(*full) <= budget.max_tokens:
        return None
    return size_for_tokens(video, budget, budget.max_tokens / n) or (budget.token_px, budget.token_px)
