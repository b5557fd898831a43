"""The evidence of an answer: the clips the model was conditioned on, most relevant first, each
with the line of the video's text that matches the question best.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from videopipe.types import Hit

if TYPE_CHECKING:
    import torch

    from videopipe.text.timeline import Timeline
    from videopipe.types import Selection, VisualTokens

__all__ = ["clip_units", "evidence_of", "token_relevance", "with_text_matches"]


def token_relevance(tokens: VisualTokens, q: torch.Tensor | None) -> torch.Tensor | None:
    """Per-token relevance to the question: a visual token's best cosine similarity to any of
    the question's token embeddings. None without question embeddings."""
    if q is None or len(tokens) == 0:
        return None
    import torch

    v = torch.nn.functional.normalize(tokens.features.float(), dim=-1)
    qn = torch.nn.functional.normalize(q.float().to(v.device), dim=-1)
    return (v @ qn.T).max(dim=1).values.cpu()


def evidence_of(
    video: str,
    selection: Selection,
    tokens: VisualTokens,
    relevance: torch.Tensor | None = None,
    original: VisualTokens | None = None,
) -> tuple[Hit, ...]:
    """The clips the answer was conditioned on, most relevant first.

    A clip's score is the sampler's relevance when it gave one (query-aware samplers,
    retrieval); otherwise the best question relevance of the clip's kept tokens (see
    :func:`token_relevance`); otherwise the share of the kept visual tokens (weighted by the
    original tokens they stand for) that came from the clip."""
    import torch

    frame_idx = tokens.frame_idx.cpu()
    kept_frames = set(frame_idx.tolist())
    reps_of = clip_units(selection, original if original is not None else tokens)
    mass: dict[int, float] = {}
    best: dict[int, float] = {}
    if len(tokens):
        f, inv = torch.unique(frame_idx, return_inverse=True)
        m = torch.zeros(len(f), dtype=torch.float64).index_add_(0, inv, tokens.size.cpu())
        mass = dict(zip(f.tolist(), (m / m.sum()).tolist()))
        if relevance is not None:
            r = torch.full((len(f),), -1.0, dtype=torch.float32).scatter_reduce(
                0, inv, relevance.float(), "amax"
            )
            best = dict(zip(f.tolist(), r.tolist()))
    hits = []
    for cid, clip in enumerate(selection.clips):
        reps = sorted(reps_of.get(cid, set()) & kept_frames)
        if not reps:
            continue
        if clip.score is not None:
            score = float(clip.score)
        elif best:
            score = max(best.get(i, -1.0) for i in reps)
        else:
            score = sum(mass.get(i, 0.0) for i in reps)
        hits.append(
            Hit(
                video=video,
                start_s=float(clip.start_s),
                end_s=float(max(clip.end_s, clip.start_s)),
                score=round(score, 6),
            )
        )
    hits.sort(key=lambda h: (-h.score, h.start_s))
    return tuple(hits)


def clip_units(selection: Selection, tokens: VisualTokens) -> dict[int, set[int]]:
    """Per selected clip (its index in ``selection.clips``), the frames whose tokens stand for
    it: the units the encoding model recorded for the clip (``EncodedLayout.unit_clip_ids``;
    a Qwen temporal patch holds two frames under the first one, and may straddle two clips).

    For tokens whose layout records no clips (a model that writes no layout, or one without
    clip ids) the same rule from the frame numbers: a token stands for its frame and the
    selected frames after it up to the next frame that has tokens of its own."""
    layout = tokens.layout
    reps: dict[int, set[int]] = {}
    if layout is not None and layout.unit_clip_ids:
        for frame, clips in zip(layout.unit_frame_idx, layout.unit_clip_ids):
            for cid in clips:
                reps.setdefault(cid, set()).add(frame)
        return reps
    import numpy as np

    token_frames = np.unique(tokens.frame_idx.cpu().numpy())
    for cid, clip in enumerate(selection.clips):
        if len(token_frames) == 0:
            reps[cid] = {int(i) for i in clip.indices}
            continue
        at = np.searchsorted(token_frames, np.asarray(clip.indices, dtype=np.int64), side="right") - 1
        reps[cid] = {int(f) for f in token_frames[np.maximum(at, 0)]}
    return reps


def with_text_matches(
    evidence: tuple[Hit, ...], timeline: Timeline, question: str, spans: Sequence[tuple[float, float]]
) -> tuple[Hit, ...]:
    """Each evidence clip with the line of the video's text, around it, that shares the most
    words with the question (``Hit.match``), when one shares any."""
    from dataclasses import replace

    from videopipe.text.prompt import best_line
    from videopipe.types import TextMatch

    out = []
    for h in evidence:
        # a clip of one frame stands for the sampled span around it
        around = [(a, b) for a, b in spans if a <= h.end_s and h.start_s <= b] or [(h.start_s, h.end_s)]
        lo, hi = min(a for a, _ in around), max(b for _, b in around)
        found = best_line(timeline.between(lo, max(hi, lo + 1e-3)), question)
        if found is None:
            out.append(h)
            continue
        line, share = found
        m = TextMatch(line.start_s, line.end_s, line.text, str(line.source), round(share, 4))
        out.append(replace(h, text=h.text or line.text, source=h.source or str(line.source), match=m))
    return tuple(out)
