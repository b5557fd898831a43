"""``keyframe``: frames where the content changes — container keyframes plus detected scene cuts.

Encoders put keyframes every N frames whatever the content, so keyframes alone do not mark
cuts. The detector works on low-resolution frames (``scan_px``, default 64 px) in two levels
so that it does not decode every frame of a long video:

1. **Probe**: decode the container keyframes (each decodes alone, cheap) — plus the last
   frame, and exact points wherever keyframes are further apart than ``max_probe_gap_s`` —
   and compare consecutive probes with the block distance of ``_signals`` (median over
   blocks of colour-histogram/thumbnail distances). A probe pair is a candidate when its
   distance is above ``probe_threshold`` or an outlier among all probe pairs
   (median + ``k`` * MAD, at least ``probe_floor``).
2. **Refine**: decode every frame between the two probes of each candidate pair (one
   sequential run from the keyframe) and mark a cut at frame j when distance(j-1, j) is above
   the adaptive threshold max(``cut_threshold``, median + ``k`` * MAD of the run) and is the
   largest within ``min_scene_frames``.

Cost: one decode per keyframe + one GOP per candidate interval, instead of every frame.
A cut that returns to the same shot between two probes (A -> B -> A inside one GOP) is
not a candidate and is missed; that is the price of probing.

Selection: candidates are one representative frame per shot (the decoded frame nearest to
the shot's middle) and the probe keyframes; near-duplicates (distance < ``dup_threshold``)
are dropped; when more remain than the budget, a farthest-point pass keeps the most distinct
frames in content + time (``time_weight``) so the whole timeline stays covered; when fewer
remain, the largest time gaps are filled (``fill``), snapped to keyframes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videopipe.protocols import VideoReader
from videopipe.samplers import _signals as sig
from videopipe.samplers._base import BaseSampler, SamplerInput
from videopipe.samplers.frame_times import check_video, index_at, keyframe_indices, snap_targets
from videopipe.samplers.probes import Probe
from videopipe.samplers.selections import single_frame_clips
from videopipe.samplers.sizing import frame_budget
from videopipe.types import Selection
from videopipe.validate import positive


@dataclass(frozen=True)
class KeyframeConfig:
    scan_px: int = 64
    max_probe_gap_s: float = 12.0
    max_probes: int = 4096
    probe_threshold: float = 0.25
    probe_floor: float = 0.08
    cut_threshold: float = 0.3
    k: float = 5.0
    min_scene_frames: int = 3
    dup_threshold: float = 0.1
    time_weight: float = 0.5
    fill: bool = True
    chunk_frames: int = 500

    def __post_init__(self) -> None:
        for name in ("scan_px", "max_probe_gap_s", "max_probes", "k", "min_scene_frames", "chunk_frames"):
            positive(f"keyframe {name}", getattr(self, name))
        for name in ("probe_threshold", "probe_floor", "cut_threshold", "dup_threshold", "time_weight"):
            positive(f"keyframe {name}", getattr(self, name), allow_zero=True)


@dataclass
class SceneScan:
    """What the detector found: cut frames, and the frames it decoded with their signatures."""

    cuts: list[int]
    decoded: np.ndarray  # sorted frame indices decoded at scan size
    signatures: sig.Signatures  # aligned with ``decoded``
    probes: list[int]
    refined: list[tuple[int, int]]  # (first, last) frame of each densely decoded span
    frames_decoded: int


def probe_points(times: np.ndarray, keyframes: list[int], cfg: KeyframeConfig) -> list[int]:
    """Keyframes + last frame + exact points inside gaps longer than ``max_probe_gap_s``."""
    n = len(times)
    pts = set(keyframes) | {0, n - 1}
    edges = sorted(pts)
    for a, b in zip(edges, edges[1:]):
        gap = float(times[b] - times[a])
        if gap > cfg.max_probe_gap_s:
            m = int(np.ceil(gap / cfg.max_probe_gap_s))
            for j in range(1, m):
                pts.add(index_at(times, float(times[a]) + j * gap / m))
    out = sorted(pts)
    if len(out) > cfg.max_probes:  # keep an even subset (always first and last)
        keep = np.linspace(0, len(out) - 1, cfg.max_probes).round().astype(int)
        out = [out[i] for i in sorted(set(keep.tolist()))]
    return out


def detect_scenes(video: VideoReader, cfg: KeyframeConfig, times: np.ndarray | None = None) -> SceneScan:
    """Find scene cuts (first frame of each new shot) with the probe/refine scheme."""
    times = check_video(video, "keyframe") if times is None else times
    n = len(times)
    probe = Probe(video, cfg.scan_px)
    keyframes = keyframe_indices(video, times)
    probes = probe_points(times, keyframes, cfg)
    psig = sig.signatures(probe.frames(probes))
    decoded: dict[int, int] = {}  # frame -> row in the signature store
    store: list[sig.Signatures] = [psig]
    for r, i in enumerate(probes):
        decoded[i] = r
    rows = len(probes)

    pd = sig.consecutive(psig)
    thr = min(cfg.probe_threshold, sig.robust_threshold(pd, k=cfg.k, floor=cfg.probe_floor))
    flagged = [j for j in range(len(pd)) if pd[j] > thr]
    # merge adjacent flagged probe pairs into spans decoded in one sequential run
    spans: list[tuple[int, int]] = []
    for j in flagged:
        a, b = probes[j], probes[j + 1]
        if spans and spans[-1][1] == a:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))

    cuts: list[int] = []
    for a, b in spans:
        # decode [a, b] in chunks that overlap by one frame
        parts: list[sig.Signatures] = []
        idx_all: list[int] = []
        s = a
        while s < b:
            e = min(b, s + cfg.chunk_frames)
            idx = list(range(s if not idx_all else s + 1, e + 1))
            parts.append(sig.signatures(probe.frames(idx)))
            idx_all += idx
            s = e
        span_sig = sig.Signatures.concat(parts)
        for i, fidx in enumerate(idx_all):
            if fidx not in decoded:
                decoded[fidx] = rows + i
        store.append(span_sig)
        rows += len(span_sig)
        d = sig.consecutive(span_sig)  # d[j]: distance(idx_all[j], idx_all[j+1])
        cuts += _cuts_in_run(d, idx_all, cfg)
    all_sig = sig.Signatures.concat(store)
    order = sorted(decoded)
    sel = np.array([decoded[i] for i in order], dtype=np.int64)
    return SceneScan(
        cuts=sorted(set(c for c in cuts if 0 < c < n)),
        decoded=np.array(order, dtype=np.int64),
        signatures=all_sig.take(sel),
        probes=probes,
        refined=spans,
        frames_decoded=probe.decoded,
    )


def _cuts_in_run(d: np.ndarray, idx: list[int], cfg: KeyframeConfig) -> list[int]:
    if len(d) == 0:
        return []
    thr = sig.robust_threshold(d, k=cfg.k, floor=cfg.cut_threshold)
    w = cfg.min_scene_frames
    out = []
    for j in np.flatnonzero(d > thr):
        lo, hi = max(0, j - w + 1), min(len(d), j + w)
        if d[j] >= d[lo:hi].max():
            out.append(idx[j + 1])
    return out


def pick_diverse(
    feats: np.ndarray, t_norm: np.ndarray, n: int, *, time_weight: float, first: int = 0
) -> list[int]:
    """Farthest-point selection of ``n`` rows: each step adds the row whose smallest
    (content distance + time_weight * |time difference|) to the chosen rows is largest."""
    m = len(feats)
    if n >= m:
        return list(range(m))
    chosen = [first]
    content = np.abs(feats - feats[first]).mean(axis=1) * 2.0
    best = content + time_weight * np.abs(t_norm - t_norm[first])
    best[first] = -1.0
    while len(chosen) < n:
        j = int(best.argmax())
        chosen.append(j)
        d = np.abs(feats - feats[j]).mean(axis=1) * 2.0 + time_weight * np.abs(t_norm - t_norm[j])
        best = np.minimum(best, d)
        best[chosen] = -1.0
    return sorted(chosen)


class KeyframeSampler(BaseSampler[KeyframeConfig]):
    """Scene-aware keyframes; see the module docstring."""

    name = "keyframe"

    def select(self, job: SamplerInput) -> Selection:
        video, budget, times = job.video, job.budget, job.times
        cfg = self.config
        n_frames = len(times)
        n = frame_budget(video, budget)
        scan = detect_scenes(video, cfg, times)
        dec = scan.decoded
        # candidates: one representative per shot (decoded frame nearest the shot middle), then probes
        bounds = [0, *scan.cuts, n_frames]
        reps: list[int] = []
        for s, e in zip(bounds, bounds[1:]):
            inside = dec[(dec >= s) & (dec < e)]
            if len(inside):
                reps.append(int(inside[np.abs(inside - (s + e - 1) / 2).argmin()]))
        cands = list(dict.fromkeys(reps + [int(p) for p in scan.probes]))
        rows = np.searchsorted(dec, cands)
        csig = scan.signatures.take(rows)
        # near-duplicate removal (shot representatives come first, so they win)
        kept: list[int] = []
        for i in range(len(cands)):
            if kept:
                dist = sig.distance(csig.take(np.full(len(kept), i)), csig.take(kept))
                if float(dist.min()) < cfg.dup_threshold:
                    continue
            kept.append(i)
        order = sorted(kept, key=lambda i: cands[i])
        kept_idx = [cands[i] for i in order]
        duration = max(1e-9, float(times[-1] - times[0]))
        if len(kept_idx) > n:
            feats = csig.take(order).flat()
            t_norm = (times[kept_idx] - times[0]) / duration
            pick = pick_diverse(feats, t_norm, n, time_weight=cfg.time_weight)
            chosen = [kept_idx[p] for p in pick]
        else:
            chosen = list(kept_idx)
        filled = 0
        if cfg.fill and len(chosen) < n:
            chosen, filled = _fill_gaps(chosen, n, times, keyframe_indices(video, times))
        meta = {
            "cuts": scan.cuts,
            "cut_times_s": [float(times[c]) for c in scan.cuts],
            "shots": len(scan.cuts) + 1,
            "probes": len(scan.probes),
            "refined_spans": scan.refined,
            "candidates": len(cands),
            "after_dedup": len(kept_idx),
            "filled": filled,
        }
        return Selection(
            single_frame_clips(chosen, times),
            sampler=self.name,
            frames_decoded=scan.frames_decoded,
            meta=meta,
        )


def _fill_gaps(chosen: list[int], n: int, times: np.ndarray, keyframes: list[int]) -> tuple[list[int], int]:
    """Add frames in the middle of the largest time gaps (snapped to keyframes) up to ``n``."""
    sel = sorted(set(chosen))
    added = 0
    t0, t1 = float(times[0]), float(times[-1])
    while len(sel) < min(n, len(times)):
        edges = [t0, *(float(times[i]) for i in sel), t1]
        gaps = [(b - a, (a + b) / 2) for a, b in zip(edges, edges[1:])]
        size, mid = max(gaps)
        snap = snap_targets([mid], times, keyframes, interval_s=size, mode="auto")
        new = [i for i in snap.indices if i not in sel]
        if not new:
            free = [i for i in range(len(times)) if i not in set(sel)]
            new = [min(free, key=lambda i: abs(float(times[i]) - mid))]
        sel = sorted(set(sel) | {new[0]})
        added += 1
    return sel, added
