"""``keyclip``: key clips instead of key frames (F2C, "From Frames to Clips", 2025).

Isolated key frames lose the motion around them. F2C picks a few *anchors* and grows each
into a short, temporally coherent clip, paying for the extra frames with resolution so that
the visual-token count stays at the budget. Steps (implemented from the paper's description):

1. Score candidates at ``rate_hz`` (about 1 fps; container keyframes when dense enough):
   relevance to the query through the embedder when there is a query, else distinctiveness
   (how unlike its temporal neighbourhood a frame is). See ``_scoring``.
2. Anchors: peaks of the (lightly smoothed) score curve, highest first, with non-maximum
   suppression so anchors are at least ``min_gap_s`` apart (default: a clip's span, and at
   least duration / (2 x anchors)). The number of anchors is the frame budget divided by
   ``clip_frames`` (at least 1, at most the number of peaks).
3. Grow each anchor over neighbouring candidates while they stay coherent with it (vector
   similarity >= ``coherence``) and relevant (score >= ``keep_ratio`` x the anchor's), up to
   ``max_clip_s``; the clip's frames are spread evenly over that span. When a container
   keyframe lies between the span's start and the anchor, the span slides forward to start
   on it, so decoding the clip starts at that keyframe instead of a whole GOP earlier.
4. Resolution vs length: every anchor gets an equal share of the token budget; a clip of L
   frames is decoded at the largest size (shorter side a multiple of ``token_px``, at least
   ``min_px``, at most ``size_px``) with L x tokens(size) <= share; if even ``min_px`` is too
   big, the clip is shortened. ``Clip.size`` records each clip's size.
5. Overlapping clips merge (frames united, the smaller size kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videopipe.samplers._base import BaseSampler, SamplerInput
from videopipe.samplers._scoring import CandidateOptions, Scored, score_candidates, smooth
from videopipe.samplers.frame_times import index_at, keyframe_indices
from videopipe.samplers.selections import spread_frames
from videopipe.samplers.sizing import default_size, size_for_tokens
from videopipe.types import Budget, Clip, Selection
from videopipe.validate import positive


@dataclass(frozen=True)
class KeyclipConfig(CandidateOptions):
    sampler_name = "keyclip"
    clip_frames: int = 4
    max_clip_s: float = 4.0
    min_gap_s: float | None = None
    coherence: float = 0.85
    keep_ratio: float = 0.5
    min_px: int = 112
    smooth_width: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("clip_frames", "max_clip_s", "min_px"):
            positive(f"keyclip {name}", getattr(self, name))
        positive("keyclip min_gap_s", self.min_gap_s, allow_none=True, allow_zero=True)
        positive("keyclip smooth_width", self.smooth_width)
        for name in ("coherence", "keep_ratio"):
            v = getattr(self, name)
            if not -1.0 <= v <= 1.0:
                from videopipe.errors import ConfigError

                raise ConfigError(f"keyclip {name} must be in [-1, 1], got {v}")


def find_anchors(scored: Scored, k: int, min_gap_s: float) -> list[int]:
    """Candidate positions of up to ``k`` anchors: local maxima of the smoothed score, best
    first, at least ``min_gap_s`` apart (then any remaining candidates, same rule)."""
    s = scored.scores
    order = np.argsort(-s, kind="stable")
    m = len(s)
    peaks = [i for i in order if (i == 0 or s[i] >= s[i - 1]) and (i == m - 1 or s[i] >= s[i + 1])]
    rest = [i for i in order if i not in set(peaks)]
    chosen: list[int] = []
    for i in peaks + rest:
        if len(chosen) >= k:
            break
        t = scored.times_s[i]
        if all(abs(t - scored.times_s[j]) >= min_gap_s for j in chosen):
            chosen.append(int(i))
    return chosen


def grow(scored: Scored, a: int, cfg: KeyclipConfig, raw: np.ndarray) -> tuple[int, int]:
    """Candidate range [lo, hi] around anchor ``a`` that stays coherent and relevant."""
    v, t = scored.vectors, scored.times_s
    lo = hi = a
    for step in (-1, 1):
        j = a + step
        while 0 <= j < len(t) and abs(t[j] - t[a]) <= cfg.max_clip_s / 2 + 1e-9:
            if float(v[j] @ v[a]) < cfg.coherence or raw[j] < cfg.keep_ratio * raw[a]:
                break
            lo, hi = min(lo, j), max(hi, j)
            j += step
    return lo, hi


class KeyclipSampler(BaseSampler[KeyclipConfig]):
    """F2C key-clip sampling; see the module docstring."""

    name = "keyclip"
    uses_query = True

    def select(self, job: SamplerInput) -> Selection:
        video, budget, times = job.video, job.budget, job.times
        cfg = self.config
        n_video = len(times)
        full = default_size(video, budget)
        tok_full = budget.tokens_per_frame(*full)
        max_frames = budget.num_frames if budget.num_frames is not None else n_video
        total_tokens = budget.max_tokens if budget.max_tokens is not None else max_frames * tok_full
        scored = score_candidates(video, times, cfg, query=job.query, embedder=job.embedder)
        raw = scored.scores
        scored.scores = 0.5 * (raw + smooth(raw, cfg.smooth_width))
        duration = float(times[-1] - times[0]) or 1.0
        k = max(1, min(len(scored.indices), -(-max_frames // cfg.clip_frames)))
        min_gap = cfg.min_gap_s if cfg.min_gap_s is not None else max(cfg.max_clip_s, duration / (2 * k))
        anchors = find_anchors(scored, k, min_gap)
        share = total_tokens / max(1, len(anchors))
        frames_left = max_frames
        spans: list[tuple[float, float, list[int], tuple[int, int], float]] = []
        keyframes = np.asarray(keyframe_indices(video, times), dtype=np.int64)
        shifted = 0
        for a in sorted(anchors, key=lambda i: -scored.scores[i]):
            lo, hi = grow(scored, a, cfg, raw)
            ta, half = float(scored.times_s[a]), min(scored.interval_s, cfg.max_clip_s) / 2
            t_lo = max(float(times[0]), scored.times_s[lo] - half, ta - cfg.max_clip_s / 2)
            t_hi = min(float(times[-1]), scored.times_s[hi] + half, ta + cfg.max_clip_s / 2)
            i_lo, i_hi = index_at(times, t_lo), index_at(times, t_hi)
            # start the clip at a keyframe inside it (decoding starts there, not a GOP earlier)
            ka = keyframes[(keyframes >= i_lo) & (keyframes <= scored.indices[a])]
            if len(ka) and ka[-1] > i_lo:
                d = int(ka[-1]) - i_lo
                i_lo, i_hi = i_lo + d, min(len(times) - 1, i_hi + d)
                shifted += 1
            want = min(cfg.clip_frames, i_hi - i_lo + 1, frames_left)
            size = None
            while want >= 1:
                size = size_for_tokens(
                    video, budget, share / want, min_short_px=min(cfg.min_px, budget.size_px)
                )
                if size is not None:
                    break
                want -= 1
            if size is None:  # not even one frame at min_px fits the share: smallest size
                size = size_for_tokens(video, budget, share) or (budget.token_px, budget.token_px)
                want = 1
            if want < 1:
                break
            frames = spread_frames(scored.indices[a], i_lo, i_hi, want)
            frames_left -= len(frames)
            spans.append(
                (float(times[frames[0]]), float(times[frames[-1]]), frames, size, float(scored.scores[a]))
            )
        clips = _merge(spans, times)
        clips = _trim(clips, budget, full, total_tokens, max_frames)
        meta = {
            "mode": scored.mode,
            "anchors_s": sorted(float(scored.times_s[a]) for a in anchors),
            "candidates": len(scored.indices),
            "candidate_interval_s": scored.interval_s,
            **scored.candidate_meta,
            "token_budget": int(total_tokens),
            "clips_shifted_to_keyframe": shifted,
            "tokens": Selection(clips).tokens(budget, full),
            "scores": [round(float(x), 4) for x in raw],
            "candidate_times_s": [float(x) for x in scored.times_s],
        }
        return Selection(clips, sampler=self.name, frames_decoded=scored.frames_decoded, meta=meta)


def _merge(
    spans: list[tuple[float, float, list[int], tuple[int, int], float]], times: np.ndarray
) -> tuple[Clip, ...]:
    spans = sorted(spans, key=lambda s: s[0])
    merged: list[list] = []
    for s0, s1, fr, size, score in spans:
        if merged and s0 <= merged[-1][1]:
            m = merged[-1]
            m[1] = max(m[1], s1)
            m[2] = sorted(set(m[2]) | set(fr))
            m[3] = min(m[3], size, key=lambda hw: hw[0] * hw[1])
            m[4] = max(m[4], score)
        else:
            merged.append([s0, s1, list(fr), size, score])
    out = []
    for _, _, fr, size, score in merged:
        ts = [float(times[i]) for i in fr]
        out.append(
            Clip(start_s=ts[0], end_s=ts[-1], indices=tuple(fr), times_s=tuple(ts), size=size, score=score)
        )
    return tuple(out)


def _trim(
    clips: tuple[Clip, ...], budget: Budget, full: tuple[int, int], total_tokens: float, max_frames: int
) -> tuple[Clip, ...]:
    """Drop frames from the lowest-scoring clips until tokens and frames fit (rounding guard)."""
    cl = list(clips)

    def over() -> bool:
        sel = Selection(tuple(cl))
        return sel.tokens(budget, full) > total_tokens or sel.num_frames > max_frames

    while cl and over():
        j = min(range(len(cl)), key=lambda i: cl[i].score or 0.0)
        c = cl[j]
        if len(c) == 1:
            if len(cl) == 1:
                break
            del cl[j]
            continue
        keep = list(range(1, len(c))) if len(c) % 2 else list(range(len(c) - 1))
        cl[j] = Clip(
            start_s=c.times_s[keep[0]], end_s=c.times_s[keep[-1]],
            indices=tuple(c.indices[k] for k in keep), times_s=tuple(c.times_s[k] for k in keep),
            size=c.size, score=c.score,
        )  # fmt: skip
    return tuple(cl)
