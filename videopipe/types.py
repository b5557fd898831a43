"""The data that flows between stages. Public names: users, notebooks and scripts rely on them.

Tensors are torch tensors. Every container validates its fields in ``__post_init__`` so a
misaligned object can never be passed on, and ``repr`` shows shapes, not data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

__all__ = [
    "VideoInfo",
    "Frames",
    "Clip",
    "Selection",
    "Budget",
    "VisualTokens",
    "Hit",
    "Stats",
    "Answer",
]


# ----------------------------------------------------------------------------------------
# Video metadata
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as decoded (not as the container header claims).

    ``width``/``height`` are the size of frames as returned, i.e. *after* rotation metadata
    has been applied. ``num_frames`` and ``duration_s`` come from the decoder's index of the
    stream where the backend has one, else from the header (see ``num_frames_exact``).
    """

    path: str
    duration_s: float
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str
    rotation: int = 0
    is_vfr: bool = False
    backend: str = ""
    start_time_s: float = 0.0
    num_frames_exact: bool = True
    has_audio: bool = False
    frames_lost: int = 0  # frames the container announces that do not decode (truncated file)

    def __post_init__(self) -> None:
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0/90/180/270, got {self.rotation}")
        if self.num_frames < 0 or self.width < 0 or self.height < 0:
            raise ValueError(f"negative size in VideoInfo for {self.path}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------
# Decoded frames
# ----------------------------------------------------------------------------------------
def _as_1d(x: Any, dtype: torch.dtype, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=dtype)
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    return t


@dataclass(frozen=True, repr=False)
class Frames:
    """Decoded RGB frames with their presentation times and absolute frame numbers.

    data:     uint8 [T, H, W, 3], RGB, channels last
    pts_s:    float64 [T], presentation time of each frame in seconds
    indices:  int64 [T], the frame's position in presentation order (0-based)
    clip_ids: int64 [T] or None, which selected clip each frame belongs to
    """

    data: torch.Tensor
    pts_s: torch.Tensor
    indices: torch.Tensor
    clip_ids: torch.Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pts_s", _as_1d(self.pts_s, torch.float64, "pts_s"))
        object.__setattr__(self, "indices", _as_1d(self.indices, torch.int64, "indices"))
        if self.clip_ids is not None:
            object.__setattr__(self, "clip_ids", _as_1d(self.clip_ids, torch.int64, "clip_ids"))
        d = self.data
        if not isinstance(d, torch.Tensor):
            raise TypeError(f"Frames.data must be a torch.Tensor, got {type(d).__name__}")
        if d.dtype != torch.uint8 or d.ndim != 4 or d.shape[-1] != 3:
            raise ValueError(f"Frames.data must be uint8 [T,H,W,3], got {d.dtype} {tuple(d.shape)}")
        n = d.shape[0]
        for name in ("pts_s", "indices", "clip_ids"):
            v = getattr(self, name)
            if v is not None and v.shape[0] != n:
                raise ValueError(f"Frames.{name} has {v.shape[0]} entries for {n} frames")

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, key: int | slice | Sequence[int] | torch.Tensor) -> Frames:
        if isinstance(key, int):
            key = slice(key, key + 1) if key != -1 else slice(-1, None)
        if not isinstance(key, slice):
            key = torch.as_tensor(key, dtype=torch.long)
        return Frames(
            data=self.data[key],
            pts_s=self.pts_s[key],
            indices=self.indices[key],
            clip_ids=None if self.clip_ids is None else self.clip_ids[key],
        )

    @property
    def height(self) -> int:
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        return int(self.data.shape[2])

    @staticmethod
    def concat(parts: Sequence[Frames]) -> Frames:
        if not parts:
            raise ValueError("Frames.concat needs at least one Frames")
        has_clips = all(p.clip_ids is not None for p in parts)
        return Frames(
            data=torch.cat([p.data for p in parts]),
            pts_s=torch.cat([p.pts_s for p in parts]),
            indices=torch.cat([p.indices for p in parts]),
            clip_ids=torch.cat([p.clip_ids for p in parts]) if has_clips else None,  # type: ignore[misc]
        )

    def __repr__(self) -> str:
        t0 = float(self.pts_s[0]) if len(self) else float("nan")
        t1 = float(self.pts_s[-1]) if len(self) else float("nan")
        return (
            f"Frames(data={tuple(self.data.shape)} {self.data.dtype}, "
            f"t={t0:.3f}..{t1:.3f}s, clips={'yes' if self.clip_ids is not None else 'no'})"
        )


# ----------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """How much of a video the model may see.

    num_frames:  at most this many frames (None: no frame limit)
    max_tokens:  at most this many visual tokens (None: no token limit)
    size_px:     default decode size, shorter side in pixels
    token_px:    pixels per visual-token side after the model's patching and spatial merge
                 (28 for Qwen2.5-VL: 14 px patches merged 2x2). Used to count tokens per frame.
    min_frames:  samplers return at least this many frames when the video has them
    """

    num_frames: int | None = 32
    max_tokens: int | None = None
    size_px: int = 448
    token_px: int = 28
    min_frames: int = 1

    def __post_init__(self) -> None:
        if self.num_frames is None and self.max_tokens is None:
            raise ValueError("Budget needs num_frames or max_tokens (or both)")
        for name in ("num_frames", "max_tokens"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"Budget.{name} must be >= 1, got {v}")
        if self.size_px < self.token_px or self.token_px < 1:
            raise ValueError(f"Budget.size_px ({self.size_px}) must be >= token_px ({self.token_px}) >= 1")
        if self.min_frames < 1:
            raise ValueError(f"Budget.min_frames must be >= 1, got {self.min_frames}")

    def frame_size(self, height: int, width: int, short_side_px: int | None = None) -> tuple[int, int]:
        """(h, w) with the shorter side scaled to ``short_side_px`` (default ``size_px``),
        aspect kept, both rounded to a multiple of ``token_px`` and at least one token."""
        s = short_side_px or self.size_px
        scale = s / max(1, min(height, width))
        h = max(self.token_px, round(height * scale / self.token_px) * self.token_px)
        w = max(self.token_px, round(width * scale / self.token_px) * self.token_px)
        return int(h), int(w)

    def tokens_per_frame(self, height: int, width: int) -> int:
        """Visual tokens one frame of (height, width) pixels costs."""
        return math.ceil(height / self.token_px) * math.ceil(width / self.token_px)

    def max_frames_for(self, height: int, width: int) -> int:
        """How many frames of this size fit in both the frame and the token budget."""
        n = self.num_frames if self.num_frames is not None else 10**9
        if self.max_tokens is not None:
            n = min(n, self.max_tokens // max(1, self.tokens_per_frame(height, width)))
        return max(0, n)


@dataclass(frozen=True)
class Clip:
    """A run of selected frames, decoded at one resolution.

    indices/times_s are the frames to decode (absolute frame numbers and their presentation
    times), sorted by time. ``size`` is (h, w) to decode them at, or None for the
    sampler's default. ``score`` is the sampler's relevance for the clip (higher = more).
    """

    start_s: float
    end_s: float
    indices: tuple[int, ...]
    times_s: tuple[float, ...]
    size: tuple[int, int] | None = None
    score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "indices", tuple(int(i) for i in self.indices))
        object.__setattr__(self, "times_s", tuple(float(t) for t in self.times_s))
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        if len(self.indices) != len(self.times_s):
            raise ValueError("Clip.indices and Clip.times_s must have the same length")
        if not self.indices:
            raise ValueError("a Clip needs at least one frame")
        if self.end_s < self.start_s:
            raise ValueError(f"Clip end_s {self.end_s} < start_s {self.start_s}")
        if any(b < a for a, b in zip(self.times_s, self.times_s[1:])):
            raise ValueError("Clip frames must be sorted by time")

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class Selection:
    """What a sampler returns: clips in time order (non-overlapping frames).

    ``frames_decoded`` counts the frames the sampler itself decoded to decide (cheap,
    low-resolution probes included); ``meta`` holds sampler-specific diagnostics
    (scores, scene-change curve, ...)."""

    clips: tuple[Clip, ...]
    sampler: str = ""
    frames_decoded: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clips", tuple(self.clips))
        prev = -math.inf
        seen: set[int] = set()
        for c in self.clips:
            if c.times_s[0] < prev:
                raise ValueError("Selection clips must be in time order and not overlap")
            prev = c.times_s[-1]
            dup = seen.intersection(c.indices)
            if dup:
                raise ValueError(f"Selection selects frame(s) {sorted(dup)[:5]} twice")
            seen.update(c.indices)

    @property
    def indices(self) -> list[int]:
        return [i for c in self.clips for i in c.indices]

    @property
    def times_s(self) -> list[float]:
        return [t for c in self.clips for t in c.times_s]

    @property
    def num_frames(self) -> int:
        return sum(len(c) for c in self.clips)

    def tokens(self, budget: Budget, default_size: tuple[int, int]) -> int:
        """Visual tokens this selection costs under ``budget``'s token geometry."""
        total = 0
        for c in self.clips:
            h, w = c.size or default_size
            total += len(c) * budget.tokens_per_frame(h, w)
        return total


# ----------------------------------------------------------------------------------------
# Visual tokens
# ----------------------------------------------------------------------------------------
_TOKEN_FIELDS = ("frame_idx", "time_s", "row", "col", "size")


@dataclass(frozen=True, repr=False)
class VisualTokens:
    """Visual tokens of a video, one row per token, ordered by (time, row, col).

    features:  float [N, D]
    frame_idx: int64 [N], absolute frame number of the frame the token comes from
    time_s:    float64 [N], that frame's presentation time
    row, col:  int64 [N], grid position of the token in its frame
    size:      float64 [N], how many original tokens this token stands for (1 before compression)
    extras:    name -> tensor [N, ...] kept aligned with the tokens (e.g. Qwen3-VL deepstack
               features); merged like ``features`` when tokens merge
    meta:      model-specific facts needed downstream (grid sizes, temporal patch size, ...)
    """

    features: torch.Tensor
    frame_idx: torch.Tensor
    time_s: torch.Tensor
    row: torch.Tensor
    col: torch.Tensor
    size: torch.Tensor
    extras: Mapping[str, torch.Tensor] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.features.ndim != 2:
            raise ValueError(f"features must be [N, D], got {tuple(self.features.shape)}")
        n = self.features.shape[0]
        dev = self.features.device
        dtypes = {
            "frame_idx": torch.int64,
            "time_s": torch.float64,
            "row": torch.int64,
            "col": torch.int64,
            "size": torch.float64,
        }
        for name in _TOKEN_FIELDS:
            v = torch.as_tensor(getattr(self, name), dtype=dtypes[name], device=dev)
            if v.shape != (n,):
                raise ValueError(f"VisualTokens.{name} must have shape ({n},), got {tuple(v.shape)}")
            object.__setattr__(self, name, v)
        for k, v in self.extras.items():
            if v.shape[0] != n:
                raise ValueError(f"VisualTokens.extras[{k!r}] has {v.shape[0]} rows for {n} tokens")
        object.__setattr__(self, "extras", dict(self.extras))
        object.__setattr__(self, "meta", dict(self.meta))

    # -- construction -------------------------------------------------------------
    @staticmethod
    def from_grid(
        features: torch.Tensor,
        frame_idx: Sequence[int] | torch.Tensor,
        time_s: Sequence[float] | torch.Tensor,
        *,
        extras: Mapping[str, torch.Tensor] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> VisualTokens:
        """Tokens from a dense grid ``features`` [T, H, W, D] (extras [T, H, W, ...])."""
        t, h, w, d = features.shape
        dev = features.device
        fi = torch.as_tensor(frame_idx, dtype=torch.int64, device=dev)
        ts = torch.as_tensor(time_s, dtype=torch.float64, device=dev)
        if fi.shape != (t,) or ts.shape != (t,):
            raise ValueError(f"frame_idx and time_s need {t} entries (one per frame)")
        rows = torch.arange(h, device=dev).view(1, h, 1).expand(t, h, w).reshape(-1)
        cols = torch.arange(w, device=dev).view(1, 1, w).expand(t, h, w).reshape(-1)
        return VisualTokens(
            features=features.reshape(t * h * w, d),
            frame_idx=fi.repeat_interleave(h * w),
            time_s=ts.repeat_interleave(h * w),
            row=rows,
            col=cols,
            size=torch.ones(t * h * w, dtype=torch.float64, device=dev),
            extras={k: v.reshape(t * h * w, *v.shape[3:]) for k, v in (extras or {}).items()},
            meta=meta or {},
        )

    @staticmethod
    def concat(parts: Sequence[VisualTokens], *, meta: Mapping[str, Any] | None = None) -> VisualTokens:
        """Tokens of several encodes (e.g. clips at different resolutions) as one sequence in
        (time, row, col) order. Extras must have the same names in every part. ``meta``, when
        given, is the result's meta; otherwise the first part's, plus ``parts_meta`` (each
        part's meta) when they differ."""
        if not parts:
            raise ValueError("VisualTokens.concat needs at least one part")
        keys = set(parts[0].extras)
        if any(set(p.extras) != keys for p in parts):
            raise ValueError("VisualTokens.concat: parts have different extras")
        if meta is None:
            meta = dict(parts[0].meta)
            if any(p.meta != parts[0].meta for p in parts[1:]):
                meta["parts_meta"] = [dict(p.meta) for p in parts]
        out = VisualTokens(
            features=torch.cat([p.features for p in parts]),
            frame_idx=torch.cat([p.frame_idx for p in parts]),
            time_s=torch.cat([p.time_s for p in parts]),
            row=torch.cat([p.row for p in parts]),
            col=torch.cat([p.col for p in parts]),
            size=torch.cat([p.size for p in parts]),
            extras={k: torch.cat([p.extras[k] for p in parts]) for k in keys},
            meta=meta,
        )
        return out._take(torch.argsort(out.order_key()))

    # -- basic properties ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def device(self) -> torch.device:
        return self.features.device

    def frame_ids(self) -> torch.Tensor:
        """Sorted unique frame numbers that have at least one token."""
        return torch.unique(self.frame_idx)

    def tokens_per_frame(self) -> dict[int, int]:
        f, c = torch.unique(self.frame_idx, return_counts=True)
        return {int(a): int(b) for a, b in zip(f.tolist(), c.tolist())}

    def order_key(self) -> torch.Tensor:
        """A sort key for (time, frame, row, col) order."""
        # rank frames by (time, frame_idx), then row-major inside a frame
        frames = torch.stack([self.time_s, self.frame_idx.to(torch.float64)], 1)
        _, frame_rank = torch.unique(frames, dim=0, return_inverse=True)
        span = int(self.col.max().item()) + 1 if len(self) else 1
        rspan = int(self.row.max().item()) + 1 if len(self) else 1
        return (frame_rank * rspan + self.row) * span + self.col

    def sorted(self) -> VisualTokens:
        """The same tokens in (time, row, col) order (``self`` when already ordered)."""
        if self.is_ordered():
            return self
        return self._take(torch.argsort(self.order_key(), stable=True))

    def is_ordered(self) -> bool:
        if len(self) < 2:
            return True
        k = self.order_key()
        return bool((k[1:] > k[:-1]).all())

    # -- the two primitives every compressor is built from -------------------------------
    def select(self, index: torch.Tensor) -> VisualTokens:
        """Keep the tokens at ``index`` (any order, no duplicates); result is re-sorted into
        (time, row, col) order and every field stays aligned."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        index = torch.sort(index).values  # inputs are ordered, so sorting indices keeps order
        return self._take(index)

    def _take(self, index: torch.Tensor) -> VisualTokens:
        return VisualTokens(
            features=self.features[index],
            frame_idx=self.frame_idx[index],
            time_s=self.time_s[index],
            row=self.row[index],
            col=self.col[index],
            size=self.size[index],
            extras={k: v[index] for k, v in self.extras.items()},
            meta=self.meta,
        )

    def merge(self, group: torch.Tensor, representative: torch.Tensor) -> VisualTokens:
        """Merge tokens into groups.

        group:          int [N], the group each token joins (0..G-1, every group non-empty)
        representative: int [G], for each group the token whose position (frame, time, row,
                        col) the merged token keeps

        Features (and extras) become the size-weighted mean of the group; ``size`` becomes the
        group's total size. The result is sorted into (time, row, col) order.
        """
        group = torch.as_tensor(group, dtype=torch.long, device=self.device)
        representative = torch.as_tensor(representative, dtype=torch.long, device=self.device)
        g = representative.shape[0]
        if group.shape != (len(self),):
            raise ValueError(f"merge(): group must have shape ({len(self)},), got {tuple(group.shape)}")
        if len(self) and (int(group.min()) < 0 or int(group.max()) >= g):
            raise ValueError(f"merge(): group ids must be in 0..{g - 1} (one representative per group)")
        if g and not bool((group[representative] == torch.arange(g, device=self.device)).all()):
            raise ValueError("merge(): each representative must be a member of its own group")
        total = torch.zeros(g, dtype=torch.float64, device=self.device).index_add_(0, group, self.size)
        if bool((total <= 0).any()):
            raise ValueError("merge(): every group must contain at least one token")

        def _mean(x: torch.Tensor) -> torch.Tensor:
            # accumulate in float32 at least (bf16/fp16 sums lose precision), cast back
            flat = x.reshape(x.shape[0], -1)
            acc_dtype = torch.promote_types(flat.dtype, torch.float32)
            ww = self.size.to(acc_dtype).unsqueeze(1)
            acc = torch.zeros(g, flat.shape[1], dtype=acc_dtype, device=self.device)
            acc.index_add_(0, group, flat.to(acc_dtype) * ww)
            acc = acc / total.to(acc_dtype).unsqueeze(1)
            return acc.to(flat.dtype).reshape(g, *x.shape[1:])

        merged = VisualTokens(
            features=_mean(self.features),
            frame_idx=self.frame_idx[representative],
            time_s=self.time_s[representative],
            row=self.row[representative],
            col=self.col[representative],
            size=total,
            extras={k: _mean(v) for k, v in self.extras.items()},
            meta=self.meta,
        )
        return merged._take(torch.argsort(merged.order_key()))

    def to(self, device: torch.device | str) -> VisualTokens:
        return VisualTokens(
            features=self.features.to(device),
            frame_idx=self.frame_idx.to(device),
            time_s=self.time_s.to(device),
            row=self.row.to(device),
            col=self.col.to(device),
            size=self.size.to(device),
            extras={k: v.to(device) for k, v in self.extras.items()},
            meta=self.meta,
        )

    def with_meta(self, **meta: Any) -> VisualTokens:
        return replace(self, meta={**self.meta, **meta})

    def __repr__(self) -> str:
        nf = len(self.frame_ids()) if len(self) else 0
        return (
            f"VisualTokens(N={len(self)}, D={self.dim if self.features.ndim == 2 else '?'}, "
            f"frames={nf}, size_sum={float(self.size.sum()):.1f}, "
            f"extras={sorted(self.extras)}, device={self.device})"
        )


# ----------------------------------------------------------------------------------------
# Retrieval and answers
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """A span of a video that matched, with its score (higher = more relevant)."""

    video: str
    start_s: float
    end_s: float
    score: float
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Stats:
    """What answering cost."""

    frames_decoded: int = 0
    frames_selected: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    seconds: Mapping[str, float] = field(default_factory=dict)
    peak_memory_mb: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = dict(self.seconds)
        return d


@dataclass(frozen=True)
class Answer:
    """The model's answer, the evidence it was conditioned on (most relevant first), and stats."""

    text: str
    evidence: tuple[Hit, ...] = ()
    stats: Stats = field(default_factory=Stats)
    video: str = ""
    question: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "question": self.question,
            "text": self.text,
            "evidence": [h.to_dict() for h in self.evidence],
            "stats": self.stats.to_dict(),
        }
