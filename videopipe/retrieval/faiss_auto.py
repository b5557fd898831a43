"""How ``auto`` chooses a FAISS index on the data itself (see :mod:`videopipe.retrieval.faiss_index`):
calibration queries near stored vectors, each candidate kind's search parameter tuned to the
recall target, and the fastest that meets it kept."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from videopipe.errors import ConfigError
from videopipe.retrieval.faiss_kinds import (
    IVF_KINDS,
    IndexKind,
    IvfCells,
    Measured,
    VectorIndex,
    build_kind,
    cpu_threads,
    flat_index,
    import_faiss,
    ivf_cells,
    set_search_param,
)

RECALL_K = 10  # auto's target is recall@RECALL_K
HNSW_ESTIMATE_SAMPLE = 20_000  # HNSW's build time is extrapolated from a build of this many rows


@dataclass(frozen=True)
class AutoConfig:
    """How ``auto`` chooses (see the module docstring). ``flat_small_n`` and ``flat_fast_ms``
    keep exact search; set both to 0 to make even a small index try the approximate kinds."""

    target_recall: float = 0.95  # recall@10 against exact search, on the calibration queries
    sample_queries: int = 500  # stored vectors sampled to make the queries
    timing_queries: int = 50  # of those, searched one at a time to measure ms per query
    flat_small_n: int = 20_000  # up to here: exact search, no measurement of other kinds
    flat_fast_ms: float = 2.0  # exact search measured at most this fast: kept
    enough_ms: float = 1.0  # a candidate meeting the target this fast ends the search
    build_budget_s: float = 240.0  # a candidate whose build would end later is skipped
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.target_recall <= 1.0:
            raise ConfigError(f"target_recall must be in (0, 1], got {self.target_recall}")
        if self.sample_queries < 10 or self.timing_queries < 1:
            raise ConfigError(
                f"sample_queries must be >= 10 and timing_queries >= 1, got {self.sample_queries}, "
                f"{self.timing_queries}"
            )
        for name in ("flat_small_n", "flat_fast_ms", "enough_ms", "build_budget_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")


class Calibration:
    """Queries made from stored vectors and their exact top-10 (``AutoConfig.sample_queries`` of
    them, by ``seed``). Each query is a sampled stored vector moved by a random step as long as the
    median distance from a sampled vector to its nearest *other* stored vector: a real query is
    near a clip, not on it. (Stored vectors used as they are overstate recall: on clustered data
    their neighbours share their IVF cell, and a query off the clip falls across cell borders; at
    1M clustered vectors, nprobe=1 measured 0.975 on stored vectors but 0.944 on queries near
    them.) A returned row counts as a true neighbour when its exact score reaches the 10th exact
    score, so equal vectors (copies of a video) never count as misses."""

    def __init__(self, x: np.ndarray, cfg: AutoConfig) -> None:
        faiss = import_faiss()
        n = len(x)
        self.x, self.cfg = x, cfg
        self.k = min(RECALL_K, n)
        rng = np.random.default_rng(cfg.seed)
        self.ids = np.sort(rng.choice(n, min(cfg.sample_queries, n), replace=False)).astype(np.int64)
        base = np.ascontiguousarray(x[self.ids])
        scores, rows = faiss.knn(base, x, min(2, n), metric=faiss.METRIC_INNER_PRODUCT)
        nearest = [s[r != own][0] for s, r, own in zip(scores, rows, self.ids) if np.any(r != own)]
        self.step = (
            float(np.median(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.asarray(nearest))))) if nearest else 0.0
        )
        noise = rng.standard_normal(base.shape).astype(np.float32)
        q = base + self.step * noise / np.linalg.norm(noise, axis=1, keepdims=True)
        self.queries = np.ascontiguousarray(q / np.linalg.norm(q, axis=1, keepdims=True), dtype=np.float32)
        scores, _ = faiss.knn(self.queries, x, self.k, metric=faiss.METRIC_INNER_PRODUCT)
        self.kth = scores[:, self.k - 1]

    def recall(self, search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]) -> float:
        """Mean recall@k of ``search(queries, k)`` over the queries."""
        _, rows = search(self.queries, self.k)
        total = 0
        for q, r, kth in zip(self.queries, rows, self.kth):
            r = r[r >= 0][: self.k]
            total += int(np.count_nonzero(self.x[r] @ q >= kth - 1e-5))
        return total / (self.k * len(self.ids))

    def ms_per_query(self, search: Callable[[np.ndarray, int], Any]) -> float:
        return ms_per_query(search, self.queries[: self.cfg.timing_queries], self.k)


def ms_per_query(search: Callable[[np.ndarray, int], Any], queries: np.ndarray, k: int) -> float:
    """Median milliseconds of one-query ``search(q, k)`` calls over ``queries`` (after a warm-up)."""
    search(queries[:1], k)
    times = []
    for q in queries:
        t = time.perf_counter()
        search(q[None], k)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def time_flat(vi: VectorIndex, x: np.ndarray, cfg: AutoConfig) -> None:
    """Exact search: recall 1 by construction; only its latency is measured (first rows as queries)."""
    ms = _fastest_threads(vi, lambda: ms_per_query(vi.search, x[: cfg.timing_queries], min(RECALL_K, len(x))))
    vi.measured = Measured(IndexKind.FLAT, {}, 1.0, round(ms, 4), 0.0, True)
    vi.target_recall = cfg.target_recall
    vi.tried = [vi.measured]


def _fastest_threads(vi: VectorIndex, measure: Callable[[], float]) -> float:
    """Milliseconds per query ``measure()`` gives with every core and with one; keeps the faster
    in ``vi.params["threads"]`` and returns its time."""
    if vi.ntotal == 0:
        return 0.0
    timed = {}
    for n in sorted({cpu_threads(), 1}, reverse=True):
        vi.params["threads"] = n
        timed[n] = measure()
    best = min(timed, key=lambda n: timed[n])
    vi.params["threads"] = best
    return timed[best]


def tune(vi: VectorIndex, cal: Calibration, build_s: float, *, sweep_to_end: bool = False) -> Measured:
    """Smallest search parameter (doubling, then bisecting) whose recall meets the target; sets
    it on ``vi`` and records the measurement. Without one: the largest tried (``meets_target``
    False). ``auto`` stops IVF at half the cells (beyond, it scans most of the data)."""
    target = cal.cfg.target_recall
    if vi.kind is IndexKind.HNSW:
        values = [ef for ef in (16, 32, 64, 128, 256, 512, 1024, 2048) if ef >= cal.k]
    else:
        nlist = vi.params["nlist"]
        top = nlist if sweep_to_end else max(1, nlist // 2)
        values = [p for p in (2**i for i in range(20)) if p <= top]
    recalls: dict[int, float] = {}

    def recall_at(v: int) -> float:
        if v not in recalls:
            set_search_param(vi, v)
            recalls[v] = cal.recall(vi.search)
        return recalls[v]

    passed = next((v for v in values if recall_at(v) >= target), None)
    if passed is None:
        best = values[-1]
    else:
        lo, best = (values[values.index(passed) - 1], passed) if passed != values[0] else (passed, passed)
        while best - lo > 1:  # recall grows with the parameter: bisect (lo fails, best passes)
            mid = (lo + best) // 2
            lo, best = (lo, mid) if recall_at(mid) >= target else (mid, best)
    recall = recall_at(best)
    set_search_param(vi, best)
    ms = _fastest_threads(vi, lambda: cal.ms_per_query(vi.search))
    vi.measured = Measured(
        vi.kind, dict(vi.params), round(recall, 4), round(ms, 4), round(build_s, 2), recall >= target
    )
    return vi.measured


def build_auto(x: np.ndarray, cfg: AutoConfig) -> VectorIndex:
    n = len(x)
    if n <= max(cfg.flat_small_n, RECALL_K):
        vi = flat_index(x)
        time_flat(vi, x, cfg)
        return vi
    faiss = import_faiss()
    t0 = time.perf_counter()
    cal = Calibration(x, cfg)
    flat_ms, flat_threads = min(
        (cal.ms_per_query(lambda q, k: faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)), n)
        for n in sorted({cpu_threads(), 1})
        if _set_threads(faiss, n)
    )
    faiss.omp_set_num_threads(cpu_threads())
    flat = Measured(IndexKind.FLAT, {"threads": flat_threads}, 1.0, round(flat_ms, 4), 0.0, True)
    tried, notes = [flat], []
    best: VectorIndex | None = None
    if flat_ms > cfg.flat_fast_ms:
        cells: IvfCells | None = None
        cells_s = 0.0
        for kind in (IndexKind.IVF, IndexKind.IVF_SQ8_REFINE, IndexKind.HNSW):
            if best is not None and best.measured is not None and best.measured.ms_per_query <= cfg.enough_ms:
                break
            if kind is IndexKind.HNSW:
                estimate = _hnsw_build_estimate_s(x, cfg.seed)
                spent = time.perf_counter() - t0
                if spent + estimate > cfg.build_budget_s:
                    notes.append(
                        f"hnsw skipped: its build (~{estimate:.0f} s, extrapolated from "
                        f"{HNSW_ESTIMATE_SAMPLE:,} rows) would end after the {cfg.build_budget_s:.0f} s "
                        f"budget ({spent:.0f} s spent)"
                    )
                    continue
            if kind in IVF_KINDS and cells is None:  # trained and assigned once for both IVF kinds
                t = time.perf_counter()
                cells = ivf_cells(x, cfg.seed)
                cells_s = time.perf_counter() - t
            t = time.perf_counter()
            vi = build_kind(x, kind, cfg.seed, cells)
            # a candidate's build time is what it would cost alone: the shared cells included
            build_s = time.perf_counter() - t + (cells_s if kind in IVF_KINDS else 0.0)
            m = tune(vi, cal, build_s)
            tried.append(m)
            if m.meets_target and (best is None or m.ms_per_query < best.measured.ms_per_query):  # type: ignore[union-attr]
                best = vi
            del vi
    if best is None or best.measured is None or best.measured.ms_per_query >= flat_ms:
        if flat_ms > cfg.flat_fast_ms:
            notes.append(
                f"no approximate index met recall@{cal.k} >= {cfg.target_recall} faster than exact search"
            )
        best = flat_index(x)
        best.params["threads"] = flat_threads
        best.measured = flat
    best.tried, best.notes = tried, notes
    best.target_recall, best.sample_queries = cfg.target_recall, len(cal.ids)
    return best


def _set_threads(faiss: Any, n: int) -> bool:
    faiss.omp_set_num_threads(n)
    return True


def _hnsw_build_estimate_s(x: np.ndarray, seed: int) -> float:
    """Seconds an HNSW build of ``x`` would take: a build of a sample, scaled by n log n."""
    n = len(x)
    m = min(n, HNSW_ESTIMATE_SAMPLE)
    rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    t = time.perf_counter()
    build_kind(np.ascontiguousarray(x[rows]), IndexKind.HNSW, seed)
    s = time.perf_counter() - t
    return s * (n / m) * (math.log(max(n, 2)) / math.log(max(m, 2)))
