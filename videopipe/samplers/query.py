"""``query``: query-aware frame selection (QuoTA / B-VLLM style).

QuoTA scores every frame's relevance to the question and gives relevant frames more of the
visual budget; B-VLLM selects frames by text-conditioned similarity while keeping temporal
context. Here, from their descriptions:

1. Candidates at ``rate_hz`` (container keyframes where dense enough) are embedded with the
   image-text embedder and scored by cosine similarity to the question (no question:
   distinctiveness, as in ``keyclip``).
2. Minimum temporal coverage: a fraction ``coverage`` of the frame budget goes to the best
   candidate of each of that many equal time segments, so the model always sees the whole
   video's context.
3. The rest is allocated by score: weights softmax(score / ``temperature``), frames given by
   largest remainder. A candidate's frames are spread over its own time window (the span
   closer to it than to any other candidate), so evidence comes with the moments around it.
   A window holds at most as many frames as it has; the excess goes to the next candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videopipe.samplers._base import BaseSampler, SamplerInput
from videopipe.samplers._scoring import CandidateOptions, Scored, score_candidates
from videopipe.samplers.frame_times import index_at
from videopipe.samplers.selections import spread_frames
from videopipe.samplers.sizing import fit_size, frame_budget
from videopipe.types import Clip, Selection
from videopipe.validate import positive


@dataclass(frozen=True)
class QueryConfig(CandidateOptions):
    sampler_name = "query"
    coverage: float = 0.25
    temperature: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("query temperature", self.temperature)
        if not 0.0 <= self.coverage <= 1.0:
            from videopipe.errors import ConfigError

            raise ConfigError(f"query coverage must be in [0, 1], got {self.coverage}")


def allocate(scored: Scored, n: int, cfg: QueryConfig, capacity: np.ndarray) -> np.ndarray:
    """Frames per candidate (int [M], sum <= n): coverage first, then by softmax score."""
    m = len(scored.indices)
    alloc = np.zeros(m, dtype=np.int64)
    n_cov = min(m, n, int(round(cfg.coverage * n))) if n > 1 else 0
    if n_cov:
        bounds = np.linspace(scored.times_s[0], scored.times_s[-1] + 1e-9, n_cov + 1)
        seg = np.clip(np.searchsorted(bounds, scored.times_s, side="right") - 1, 0, n_cov - 1)
        for s in range(n_cov):
            members = np.flatnonzero(seg == s)
            if len(members):
                alloc[members[np.argmax(scored.scores[members])]] += 1
    rest = n - int(alloc.sum())
    w = np.exp((scored.scores - scored.scores.max()) / cfg.temperature)
    w = w / w.sum()
    while rest > 0:
        room = capacity - alloc
        if room.sum() <= 0:
            break
        ww = np.where(room > 0, w, 0.0)
        if ww.sum() <= 0:
            ww = (room > 0).astype(float)
        ww = ww / ww.sum()
        want = ww * rest
        give = np.minimum(np.floor(want).astype(np.int64), room)
        left = rest - int(give.sum())
        if left > 0:  # largest remainders
            order = np.argsort(-(want - np.floor(want)) - 1e-3 * ww)
            for j in order:
                if left == 0:
                    break
                if give[j] < room[j]:
                    give[j] += 1
                    left -= 1
        if give.sum() == 0:
            break
        alloc += give
        rest -= int(give.sum())
    return alloc


class QuerySampler(BaseSampler[QueryConfig]):
    """Query-aware frame selection; see the module docstring."""

    name = "query"
    uses_query = True

    def select(self, job: SamplerInput) -> Selection:
        video, budget, times = job.video, job.budget, job.times
        cfg = self.config
        n = frame_budget(video, budget)
        scored = score_candidates(video, times, cfg, query=job.query, embedder=job.embedder)
        # each candidate's window: the frames closer to it than to its neighbours
        ct = scored.times_s
        mids = (ct[1:] + ct[:-1]) / 2
        lo = [0] + [index_at(times, float(t)) + 1 for t in mids]
        hi = [x - 1 for x in lo[1:]] + [len(times) - 1]
        lo = [min(a, c) for a, c in zip(lo, scored.indices)]
        hi = [max(b, c) for b, c in zip(hi, scored.indices)]
        capacity = np.array([h - lo_ + 1 for lo_, h in zip(lo, hi)], dtype=np.int64)
        alloc = allocate(scored, n, cfg, capacity)
        size = fit_size(video, budget, int(alloc.sum()))
        clips = []
        used: set[int] = set()
        for j in np.flatnonzero(alloc):
            fr = spread_frames(scored.indices[j], lo[j], hi[j], int(alloc[j]))
            fr = [f for f in fr if f not in used]
            used.update(fr)
            if not fr:
                continue
            ts = [float(times[i]) for i in fr]
            clips.append(
                Clip(start_s=ts[0], end_s=ts[-1], indices=tuple(fr), times_s=tuple(ts), size=size,
                     score=float(scored.scores[j]))
            )  # fmt: skip
        meta = {
            "mode": scored.mode,
            "candidates": len(scored.indices),
            "candidate_interval_s": scored.interval_s,
            **scored.candidate_meta,
            "allocation": {int(scored.indices[j]): int(alloc[j]) for j in np.flatnonzero(alloc)},
            "scores": [round(float(x), 4) for x in scored.scores],
            "candidate_times_s": [float(x) for x in ct],
        }
        return Selection(tuple(clips), sampler=self.name, frames_decoded=scored.frames_decoded, meta=meta)
