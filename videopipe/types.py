"""The data that flows between stages. Public names: users, notebooks and scripts rely on them.

Tensors are torch tensors. Every container validates its fields when it is built, so a
misaligned object can never be passed on, and ``repr`` shows shapes, not data.

This module does not import torch: ``Frames`` keeps host frames as numpy and makes torch
views on first use, and ``VisualTokens`` (torch throughout) lives in
:mod:`videopipe.visual_tokens`, re-exported here on first access. So decoding, sampling and
saving frames (``videopipe frames``) start in a fraction of a second.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from videopipe.geometry import fit_frame_size

if TYPE_CHECKING:
    import torch

    from videopipe.visual_tokens import VisualTokens

__all__ = [
    "VideoInfo",
    "Frames",
    "Clip",
    "Selection",
    "Budget",
    "VisualTokens",
    "Hit",
    "TextMatch",
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
    # "random": frames are read by seeking (verified exact); "remapped": the container's times
    # lie, so the frame table came from a full decode and frames are recognised after a seek by
    # the times the decoder gives them (exact); "sequential": read by decoding from the start
    # (exact, slower; where even that recognition fails)
    access: str = "random"

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
def _torch() -> Any:
    import torch

    return torch


def _is_tensor(x: Any) -> bool:
    # torch is imported only if something already did: a tensor cannot exist without it
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(x, mod.Tensor)


def _host_1d(x: Any, dtype: type | None, name: str) -> np.ndarray:
    if _is_tensor(x):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=dtype)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


class Frames:
    """Decoded RGB frames with their presentation times and absolute frame numbers.

    data:     uint8 [T, H, W, 3], RGB, channels last (torch.Tensor)
    pts_s:    float64 [T], presentation time of each frame in seconds (torch.Tensor)
    indices:  int64 [T], the frame's position in presentation order, 0-based (torch.Tensor)
    clip_ids: int64 [T] or None, which selected clip each frame belongs to (torch.Tensor)

    Storage: frames decoded on the CPU are kept as numpy arrays, frames decoded on a GPU as
    the decoder's CUDA tensor. The torch fields above are zero-copy views made on first
    use, so decoding frames and writing them to disk never imports torch (it costs about
    2 CPU-seconds). ``array``, ``pts_array``, ``index_array`` and ``clip_array`` give numpy
    (``array`` copies GPU frames to the host): code that should stay torch-free reads those,
    since reading a torch field imports torch. Immutable, like the other types here.
    """

    __slots__ = ("_data", "_pts", "_idx", "_clips", "_views")

    def __init__(self, data: Any, pts_s: Any, indices: Any, clip_ids: Any = None) -> None:
        if not isinstance(data, np.ndarray) and not _is_tensor(data):
            raise TypeError(f"Frames.data must be a numpy array or torch.Tensor, got {type(data).__name__}")
        dtype_ok = data.dtype == np.uint8 if isinstance(data, np.ndarray) else data.dtype == _torch().uint8
        if not dtype_ok or data.ndim != 4 or data.shape[-1] != 3:
            raise ValueError(f"Frames.data must be uint8 [T,H,W,3], got {data.dtype} {tuple(data.shape)}")
        set_ = object.__setattr__
        set_(self, "_data", data)
        set_(self, "_pts", _host_1d(pts_s, np.float64, "pts_s"))
        set_(self, "_idx", _host_1d(indices, np.int64, "indices"))
        set_(self, "_clips", None if clip_ids is None else _host_1d(clip_ids, np.int64, "clip_ids"))
        set_(self, "_views", {})
        n = data.shape[0]
        for name, v in (("pts_s", self._pts), ("indices", self._idx), ("clip_ids", self._clips)):
            if v is not None and v.shape[0] != n:
                raise ValueError(f"Frames.{name} has {v.shape[0]} entries for {n} frames")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Frames is immutable (cannot set {name!r}); use Frames.replace")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Frames, (self._data, self._pts, self._idx, self._clips))

    # -- torch views (zero-copy for host arrays) ------------------------------------------
    def _view(self, name: str, arr: np.ndarray) -> torch.Tensor:
        v = self._views.get(name)
        if v is None:
            v = self._views[name] = _torch().from_numpy(arr)
        return v

    @property
    def data(self) -> torch.Tensor:
        """uint8 [T, H, W, 3] torch.Tensor (on the decoder's device)."""
        return self._data if _is_tensor(self._data) else self._view("data", self._data)

    @property
    def pts_s(self) -> torch.Tensor:
        """float64 [T] torch.Tensor of presentation times (s)."""
        return self._view("pts_s", self._pts)

    @property
    def indices(self) -> torch.Tensor:
        """int64 [T] torch.Tensor of frame numbers (presentation order)."""
        return self._view("indices", self._idx)

    @property
    def clip_ids(self) -> torch.Tensor | None:
        """int64 [T] torch.Tensor of clip ids, or None."""
        return None if self._clips is None else self._view("clip_ids", self._clips)

    # -- numpy -----------------------------------------------------------------------------
    @property
    def array(self) -> np.ndarray:
        """uint8 [T, H, W, 3] numpy array on the host (a copy only for GPU frames)."""
        d = self._data
        return d if isinstance(d, np.ndarray) else d.detach().cpu().numpy()

    @property
    def pts_array(self) -> np.ndarray:
        return self._pts

    @property
    def index_array(self) -> np.ndarray:
        return self._idx

    @property
    def clip_array(self) -> np.ndarray | None:
        return self._clips

    @property
    def on_host(self) -> bool:
        """True when the frames are in host memory (numpy or a CPU tensor)."""
        return isinstance(self._data, np.ndarray) or self._data.device.type == "cpu"

    # -- shape and selection ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._data.shape[0])

    @property
    def height(self) -> int:
        return int(self._data.shape[1])

    @property
    def width(self) -> int:
        return int(self._data.shape[2])

    def __getitem__(self, key: int | slice | Sequence[int] | Any) -> Frames:
        if isinstance(key, (int, np.integer)):
            k = int(key)
            key = slice(k, k + 1) if k != -1 else slice(-1, None)
        if not isinstance(key, slice):
            key = _host_1d(key, None, "index")  # dtype kept: a boolean mask or frame positions
            key = np.flatnonzero(key) if key.dtype == np.bool_ else key.astype(np.int64)
        data = self._data
        if _is_tensor(data) and not isinstance(key, slice):
            data = data[_torch().from_numpy(key).to(data.device)]
        else:
            data = data[key]
        return Frames(data, self._pts[key], self._idx[key], None if self._clips is None else self._clips[key])

    def replace(self, *, pts_s: Any = None, indices: Any = None, clip_ids: Any = None) -> Frames:
        """The same pixels with other times / frame numbers / clip ids (None keeps a field)."""
        return Frames(
            self._data,
            self._pts if pts_s is None else pts_s,
            self._idx if indices is None else indices,
            self._clips if clip_ids is None else clip_ids,
        )

    @staticmethod
    def concat(parts: Sequence[Frames]) -> Frames:
        if not parts:
            raise ValueError("Frames.concat needs at least one Frames")
        has_clips = all(p._clips is not None for p in parts)
        if any(_is_tensor(p._data) for p in parts):
            data = _torch().cat([p.data for p in parts])
        else:
            data = np.concatenate([p._data for p in parts])
        return Frames(
            data,
            np.concatenate([p._pts for p in parts]),
            np.concatenate([p._idx for p in parts]),
            np.concatenate([p._clips for p in parts]) if has_clips else None,  # type: ignore[misc]
        )

    def __repr__(self) -> str:
        t0 = float(self._pts[0]) if len(self) else float("nan")
        t1 = float(self._pts[-1]) if len(self) else float("nan")
        return (
            f"Frames(data={tuple(self._data.shape)} {self._data.dtype}, "
            f"t={t0:.3f}..{t1:.3f}s, clips={'yes' if self._clips is not None else 'no'})"
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
        # ConfigError (a ValueError): these come from user options (--num-frames, --size, ...)
        from videopipe.errors import ConfigError
        from videopipe.settings import check_size_px

        if self.num_frames is None and self.max_tokens is None:
            raise ConfigError("Budget needs num_frames or max_tokens (or both)")
        for name in ("num_frames", "max_tokens"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"Budget.{name} must be >= 1, got {v}")
        if self.token_px < 1:
            raise ConfigError(f"Budget.token_px must be >= 1, got {self.token_px}")
        check_size_px(self.size_px, token_px=self.token_px)
        if self.min_frames < 1:
            raise ConfigError(f"Budget.min_frames must be >= 1, got {self.min_frames}")

    def frame_size(self, height: int, width: int, short_side_px: int | None = None) -> tuple[int, int]:
        """(h, w) with the shorter side scaled to ``short_side_px`` (default ``size_px``),
        aspect kept, both rounded to a multiple of ``token_px`` and at least one token."""
        return fit_frame_size(height, width, short_side_px or self.size_px, self.token_px)

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
# Retrieval and answers
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextMatch:
    """The line of a video's text (subtitle cue, transcript line, screen text) that matched a
    query or question best, with its own time span: for a slide, when it was on screen."""

    start_s: float
    end_s: float
    text: str
    source: str  # "subtitles", "speech" or "screen"
    score: float = 0.0


@dataclass(frozen=True)
class Hit:
    """A span of a video that matched, with its score (higher = more relevant).

    text:   the clip's text (what a text embedder embedded), "" when it had none
    source: where that text came from (``"speech"``, ``"subtitles,screen"``...)
    match:  the single line of it that matched best, with its own span (None: no text)"""

    video: str
    start_s: float
    end_s: float
    score: float
    text: str = ""
    source: str = ""
    match: TextMatch | None = None

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
    #: the video's text in the prompt: lines, tokens (counted by the model's tokenizer) and the
    #: sources they came from; notes say what was missing or left out ("no audio track", ...)
    text_lines: int = 0
    text_tokens: int = 0
    text_sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: seconds from the start of generation to the first piece of the answer (the prefill a
    #: user waits through; part of ``seconds["generate"]``), None when nothing was generated
    first_token_s: float | None = None
    #: the language model's tokens: the prompt (text + visual tokens after compression), the
    #: answer's, and why it stopped ("stop": end of turn, "length": ``max_new_tokens`` cut it);
    #: counted by the model where it counts them, else by its tokenizer
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    #: of the prompt tokens, those read from a stored KV cache of an earlier prompt (a
    #: conversation's earlier turns, the same video's tokens) instead of prefilled
    cached_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = dict(self.seconds)
        d["text_sources"] = list(self.text_sources)
        d["notes"] = list(self.notes)
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


def __getattr__(name: str) -> Any:
    # VisualTokens needs torch; import it (and torch) only when someone asks for it
    if name == "VisualTokens":
        from videopipe.visual_tokens import VisualTokens

        return VisualTokens
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
