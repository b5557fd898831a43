"""A view of a video restricted to a few time spans (the clips retrieval picked).

``SpanView`` presents the spans, in time order, as one shorter *virtual* video: frame ``j``
of the view is real frame ``map[j]``, and virtual presentation times run contiguously from 0
(each span starts one frame after the previous one ends). Any sampler can run on the view
unchanged; :meth:`SpanView.to_real` maps its selection back to real frame numbers and
presentation times.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from videopipe.errors import InputError
from videopipe.types import Clip, Frames, Hit, Selection, VideoInfo


def merge_spans(
    spans: Sequence[tuple[float, float]], *, context_s: float, duration_s: float
) -> list[tuple[float, float]]:
    """Widen each span by ``context_s`` on both sides, clip to the video, merge overlaps."""
    out: list[list[float]] = []
    for a, b in sorted((max(0.0, a - context_s), min(duration_s, b + context_s)) for a, b in spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


class SpanView:
    """A ``VideoReader`` over the frames of ``reader`` whose times fall in ``spans``."""

    def __init__(self, reader: Any, spans: Sequence[tuple[float, float]]) -> None:
        self.reader = reader
        pts = np.asarray(reader.pts_s, dtype=np.float64)
        pieces, vpts, offset = [], [], 0.0
        frame_dt = float(np.median(np.diff(pts))) if len(pts) > 1 else 1.0
        self.spans: list[tuple[float, float]] = []
        for a, b in spans:
            idx = np.nonzero((pts >= a) & (pts < b))[0]
            if len(idx) == 0:
                continue
            pieces.append(idx)
            vpts.append(offset + (pts[idx] - pts[idx[0]]))
            offset = float(vpts[-1][-1]) + frame_dt
            self.spans.append((float(a), float(b)))
        if not pieces:
            raise InputError(f"{reader.info.path}: none of the retrieved spans contains a frame")
        self._map = np.concatenate(pieces).astype(np.int64)
        self._vpts = np.concatenate(vpts)
        real = reader.info
        self._info = replace(real, num_frames=len(self._map), duration_s=offset, is_vfr=True)

    # -- VideoReader protocol -------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def pts_s(self) -> np.ndarray:
        return self._vpts

    def indices_at_times(self, times_s: Sequence[float]) -> np.ndarray:
        t = np.asarray(times_s, dtype=np.float64)
        if t.size and (t.min() < 0 or t.max() > self._info.duration_s):
            raise InputError(f"times outside the retrieved spans (0..{self._info.duration_s:.3f}s)")
        return np.clip(np.searchsorted(self._vpts, t, side="right") - 1, 0, len(self._vpts) - 1)

    def _virtual(self, real: Frames, vidx: np.ndarray) -> Frames:
        return real.replace(pts_s=self._vpts[vidx], indices=vidx)

    def frames_at(self, indices: Sequence[int], *, size: Any = None) -> Frames:
        vidx = np.asarray(indices, dtype=np.int64)
        if vidx.size and (vidx.min() < 0 or vidx.max() >= len(self._map)):
            raise InputError(f"frame index outside the retrieved spans (0..{len(self._map) - 1})")
        return self._virtual(self.reader.frames_at(self._map[vidx].tolist(), size=size), vidx)

    def frames_at_times(self, times_s: Sequence[float], *, size: Any = None) -> Frames:
        return self.frames_at(self.indices_at_times(times_s).tolist(), size=size)

    def keyframe_times(self) -> list[float]:
        real_kf = np.asarray(self.reader.keyframe_times(), dtype=np.float64)
        real_pts = np.asarray(self.reader.pts_s, dtype=np.float64)[self._map]
        pos = np.nonzero(np.isin(np.round(real_pts, 6), np.round(real_kf, 6)))[0]
        return self._vpts[pos].tolist()

    def packet_sizes(self) -> np.ndarray | None:
        """The real frames' packet sizes (None when the reader cannot tell)."""
        sizes = self.reader.packet_sizes()
        return None if sizes is None else np.asarray(sizes)[self._map]

    def iter_frames(self, *, every: int = 1, size: Any = None) -> Iterator[Frames]:
        chunk = 64
        vidx = np.arange(0, len(self._map), every)
        for k in range(0, len(vidx), chunk):
            yield self.frames_at(vidx[k : k + chunk].tolist(), size=size)

    def close(self) -> None:  # the underlying reader is owned by the caller
        pass

    # -- mapping back ---------------------------------------------------------------------------
    def to_real(self, selection: Selection, scores: Sequence[float] | None = None) -> Selection:
        """The selection in real frame numbers and presentation times. A clip that straddles
        two spans is split at the span boundary. ``scores`` (one per span) become the clip
        scores when the sampler gave none."""
        real_pts = np.asarray(self.reader.pts_s, dtype=np.float64)
        bounds = np.cumsum([0] + [int(((real_pts >= a) & (real_pts < b)).sum()) for a, b in self.spans])
        clips = []
        for c in selection.clips:
            v = np.asarray(c.indices, dtype=np.int64)
            span_of = np.searchsorted(bounds, v, side="right") - 1
            for s in np.unique(span_of):
                part = v[span_of == s]
                r = self._map[part]
                t = real_pts[r]
                score = c.score if c.score is not None else (None if scores is None else float(scores[s]))
                clips.append(
                    Clip(
                        start_s=float(t[0]),
                        end_s=float(t[-1]),
                        indices=tuple(r.tolist()),
                        times_s=tuple(t.tolist()),
                        size=c.size,
                        score=score,
                    )
                )
        clips.sort(key=lambda c: c.times_s[0])
        return Selection(
            tuple(clips),
            sampler=selection.sampler,
            frames_decoded=selection.frames_decoded,
            meta=selection.meta,
        )


def restrict_to_hits(
    reader: Any, hits: Sequence[Hit], *, context_s: float = 5.0
) -> tuple[SpanView, list[float]]:
    """A view over the retrieved clips (plus ``context_s`` on each side) and each merged
    span's best retrieval score (to rank evidence)."""
    if not hits:
        raise InputError(f"{reader.info.path}: retrieval found no clip of this video for the question")
    spans = merge_spans(
        [(h.start_s, h.end_s) for h in hits], context_s=context_s, duration_s=reader.info.duration_s
    )
    view = SpanView(reader, spans)
    scores = [
        max((h.score for h in hits if h.end_s > a and h.start_s < b), default=0.0) for a, b in view.spans
    ]
    return view, scores
