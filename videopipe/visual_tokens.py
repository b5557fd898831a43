"""Visual tokens: what the vision tower produces and compressors reduce (see ``VisualTokens``).

Kept apart from :mod:`videopipe.types` because it needs torch, and the decode/sample/save
path (``videopipe frames``) must not import torch. ``videopipe.types.VisualTokens`` still
works: the types module re-exports it on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from videopipe.model_records import EncodedLayout

__all__ = ["VisualTokens"]


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
    layout:    where the tokens sat in the uncompressed prompt, as the encoding model wrote it
               (:class:`~videopipe.model_records.EncodedLayout`; None for models that do not
               need it); every operation here, hence every compressor, carries it unchanged
    meta:      free-form diagnostics (nothing downstream may depend on them)
    """

    features: torch.Tensor
    frame_idx: torch.Tensor
    time_s: torch.Tensor
    row: torch.Tensor
    col: torch.Tensor
    size: torch.Tensor
    extras: Mapping[str, torch.Tensor] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    layout: EncodedLayout | None = None

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
        layout: EncodedLayout | None = None,
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
            layout=layout,
        )

    @staticmethod
    def concat(parts: Sequence[VisualTokens], *, meta: Mapping[str, Any] | None = None) -> VisualTokens:
        """Tokens of several encodes (e.g. clips at different resolutions) as one sequence in
        (time, row, col) order. Extras must have the same names in every part. ``meta``, when
        given, is the result's meta; otherwise the first part's, plus ``parts_meta`` (each
        part's meta) when they differ. Layouts are joined with ``EncodedLayout.concat`` (all
        parts have one, or none has)."""
        if not parts:
            raise ValueError("VisualTokens.concat needs at least one part")
        layouts = [p.layout for p in parts if p.layout is not None]
        if layouts and len(layouts) != len(parts):
            raise ValueError("VisualTokens.concat: some parts have a layout and some do not")
        layout = type(layouts[0]).concat(layouts) if layouts else None
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
            layout=layout,
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
            layout=self.layout,
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
            layout=self.layout,
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
            layout=self.layout,
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
