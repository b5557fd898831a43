"""Scoring candidate frames for the content-aware samplers (keyclip, query, space_aware).

Candidates come from :func:`~videopipe.samplers.candidates.candidate_frames` (about ``rate_hz``
per second, container keyframes where they are dense enough, so each decodes alone, plus the
frames around packet-size spikes between keyframes). They are
decoded once at ``embed_px`` and described either by the :class:`~videopipe.protocols.Embedder`
(image vectors; the query's text vector gives relevance) or, with no embedder, by the cheap
block signatures of ``_signals`` (distinctiveness only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from videopipe.errors import ConfigError
from videopipe.protocols import Embedder, VideoReader
from videopipe.samplers import _signals as sig
from videopipe.samplers.candidates import CANDIDATE_MODES, SPIKE_BUDGET_FRAMES, Candidates, candidate_frames
from videopipe.samplers.frame_times import keyframe_indices
from videopipe.samplers.probes import Probe, unit_rows
from videopipe.validate import choice, positive


@dataclass(frozen=True)
class CandidateOptions:
    """How candidates are chosen and decoded (shared by keyclip, query and space_aware).

    rate_hz:        candidates per second of video (about; see ``candidate_frames``)
    max_candidates: at most this many
    embed_px:       shorter side the candidates are decoded at for the embedder
    candidates:     "auto" (cheap: keyframes on long-GOP videos) or "grid" (the exact rate)
    max_gap_s:      with "auto", exact frames are added inside keyframe gaps longer than this
    spike_budget_frames: with "auto" on long-GOP videos, frames around packet-size spikes
                    (content changes between keyframes) are added while decoding them costs at
                    most this many frames in all; 0 turns them off"""

    rate_hz: float = 1.0
    max_candidates: int = 1024
    embed_px: int = 224
    candidates: str = "auto"
    max_gap_s: float = 12.0
    spike_budget_frames: int = SPIKE_BUDGET_FRAMES

    sampler_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        choice(f"{self.sampler_name} candidates", self.candidates, CANDIDATE_MODES)
        for name in ("rate_hz", "max_candidates", "embed_px", "max_gap_s"):
            positive(f"{self.sampler_name} {name}", getattr(self, name))
        positive(f"{self.sampler_name} spike_budget_frames", self.spike_budget_frames, allow_zero=True)

    def choose(self, video: VideoReader, times: np.ndarray, keyframes: Sequence[int]) -> Candidates:
        """The candidate frames these options give for ``video`` (see ``candidate_frames``)."""
        return candidate_frames(
            video,
            times,
            keyframes,
            rate_hz=self.rate_hz,
            max_candidates=self.max_candidates,
            mode=self.candidates,
            max_gap_s=self.max_gap_s,
            spike_budget_frames=self.spike_budget_frames,
        )


@dataclass
class Scored:
    indices: list[int]  # candidate frames, sorted
    times_s: np.ndarray  # their times
    vectors: np.ndarray  # [M, D] unit rows (embedder vectors, or signature vectors)
    scores: np.ndarray  # [M] relevance in [0, 1] (higher = more relevant)
    mode: str  # "query" or "distinct"
    interval_s: float  # candidate spacing
    frames_decoded: int
    frames: np.ndarray | None = None  # the decoded candidates (uint8 [M, h, w, 3]) when kept
    candidate_meta: dict[str, int] = field(default_factory=dict)  # Candidates.meta()


def score_candidates(
    video: VideoReader,
    times: np.ndarray,
    options: CandidateOptions,
    *,
    query: str | None,
    embedder: Embedder | None,
    scan_px: int = 64,
    keep_frames: bool = False,
    batch: int = 64,
) -> Scored:
    """Decode the candidates ``options`` choose and score them (query similarity, else
    distinctiveness)."""
    if query is not None and not query.strip():
        raise ConfigError("query is empty; pass a question or leave it unset")
    if query is not None and embedder is None:
        raise ConfigError(
            "a query needs an image-text embedder to score frames; pass embedder=<Embedder> "
            "(CLI: --embedder clip, or --embedder color for the test embedder)"
        )
    cands = options.choose(video, times, keyframe_indices(video, times))
    idx, interval = cands.indices, cands.interval_s
    probe = Probe(video, options.embed_px if embedder is not None else scan_px)
    vecs: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    if embedder is not None:
        import torch  # embedders take tensors; scoring by block signatures stays torch-free

    for s in range(0, len(idx), batch):
        fr = probe.frames(idx[s : s + batch])
        if embedder is not None:
            vecs.append(embedder.embed_images(torch.from_numpy(np.ascontiguousarray(fr))).numpy())
        else:
            vecs.append(unit_rows(sig.signatures(fr).flat()))
        if keep_frames:
            kept.append(fr)
    v = np.concatenate(vecs).astype(np.float32)
    if query is not None and embedder is not None:
        q = embedder.embed_texts([query]).numpy()[0]
        raw = v @ q
        mode = "query"
    else:
        raw = distinctiveness(v)
        mode = "distinct"
    return Scored(
        indices=list(idx),
        times_s=times[idx],
        vectors=v,
        scores=_minmax(raw),
        mode=mode,
        interval_s=interval,
        frames_decoded=probe.decoded,
        frames=np.concatenate(kept) if keep_frames and kept else None,
        candidate_meta=cands.meta(),
    )


def distinctiveness(v: np.ndarray, *, window: int = 3) -> np.ndarray:
    """How unlike its temporal neighbourhood each vector is: 1 - mean cosine similarity to the
    ``window`` candidates on each side, plus its distance from the video's mean vector."""
    m = len(v)
    if m == 1:
        return np.ones(1)
    sims = np.zeros(m)
    for i in range(m):
        lo, hi = max(0, i - window), min(m, i + window + 1)
        nb = [j for j in range(lo, hi) if j != i]
        sims[i] = float((v[nb] @ v[i]).mean())
    mean = unit_rows(v.mean(axis=0, keepdims=True))[0]
    return (1.0 - sims) + 0.5 * (1.0 - v @ mean)


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return np.ones_like(x, dtype=np.float64)
    return (x - lo) / (hi - lo)


def smooth(x: np.ndarray, width: int = 3) -> np.ndarray:
    if width <= 1 or len(x) < 3:
        return x.astype(np.float64)
    k = np.ones(width) / width
    pad = np.pad(x.astype(np.float64), width // 2, mode="edge")
    return np.convolve(pad, k, mode="valid")[: len(x)]
