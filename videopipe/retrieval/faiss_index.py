"""FAISS indexes over unit vectors (inner product = cosine similarity).

Types (``INDEX_TYPES``):

- ``flat``: exact ``IndexFlatIP``; no training, no file on disk needed (rebuilt from vectors).
- ``ivf``: ``IndexIVFFlat`` with ``nlist`` = the power of two nearest ``2 * sqrt(N)`` k-means
  cells (trained on ``IVF_TRAIN_PER_CELL`` points per cell, 10 iterations); ``nprobe`` tuned.
- ``ivf_sq8``: the same cells with 8-bit scalar-quantised vectors (a quarter of the memory,
  slightly lower recall); never picked by ``auto``, on request.
- ``ivf_sq8_refine``: the same cells scanned through their 8-bit codes, and the best
  ``k_factor * k`` rescored exactly with the float vectors (``IndexRefineFlat``): a scan that reads
  a quarter of the bytes at the recall of ``ivf`` (the codes only order the candidates), for the
  memory of ``ivf`` plus a quarter. Where the scan dominates (unstructured data, many cells
  probed) it answers in about half the time of ``ivf``.
- ``hnsw``: ``IndexHNSWFlat`` graph (M=16, efConstruction=48); ``efSearch`` tuned; CPU only.

``auto`` (:func:`build_auto`, knobs in :class:`AutoConfig`) chooses by a recall target
measured on the data itself at build time: up to ``flat_small_n`` vectors it keeps exact
search (no build); above, it measures exact search's own latency and keeps it when it is under
``flat_fast_ms``; else it samples stored vectors, moves each by a step as long as the typical
distance to a nearest neighbour (:class:`Calibration`: a real query is near a clip, not on it),
takes these queries' exact top-10, and tries candidates
cheapest build first -- IVF (``nprobe`` 1, 2, 4, ... until recall@10 >= the target), then IVF with
8-bit codes and an exact re-rank (the same k-means cells and cell assignments, so it costs only
the encoding), then HNSW
(``efSearch`` 16, 32, ...; skipped when its build, extrapolated from a sample build, would
overrun ``build_budget_s``) -- stopping early once one meets the target in ``enough_ms``. The
fastest candidate that meets the target wins; when none does, exact search (recall 1) is kept.
What was chosen -- kind, parameters, the measured recall@10 and ms per query -- is recorded in
the snapshot (``FaissMeta``) and shown by ``search --json``.

FAISS runs on every core: :func:`import_faiss` sets its OpenMP threads to the CPUs this process
may use, and IVF indexes search one query with all of them (``parallel_mode = 1``: over the
probed cells).

With faiss-gpu installed and a GPU present (``faiss.get_num_gpus() > 0``), ``flat`` and the IVF
indexes are moved to GPU 0 for search (``device="auto"``); HNSW has no GPU version and stays on
the CPU. Indexes are always saved in their CPU form; the recall and latency are measured on the
CPU index at build time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import ConfigError, DeviceError, IndexStoreError, MissingDependencyError

INDEX_TYPES = ("flat", "hnsw", "ivf", "ivf_sq8", "ivf_sq8_refine")
IVF_KINDS = ("ivf", "ivf_sq8", "ivf_sq8_refine")  # an IVF index searched by nprobe (maybe inside a refine)
RECALL_K = 10  # auto's target is recall@RECALL_K
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 48
IVF_TRAIN_PER_CELL = 40  # FAISS wants >= 39 training points per centroid
IVF_KMEANS_ITERATIONS = 10
REFINE_K_FACTOR = 2  # ivf_sq8_refine rescores the codes' best 2k (4k measured no better at 1M)
HNSW_ESTIMATE_SAMPLE = 20_000  # HNSW's build time is extrapolated from a build of this many rows
# snapshots written before auto-tuning recorded no parameters: their fixed values
LEGACY_IVF_PROBE_FRACTION = 8  # nprobe = nlist / 8
LEGACY_HNSW_EF_SEARCH = 128


def cpu_threads() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def import_faiss() -> Any:
    """``faiss``, with its OpenMP threads set to every CPU this process may use."""
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError(
            "retrieval needs FAISS; install faiss-cpu (pip install faiss-cpu) or, with a GPU, "
            "pip install 'videopipe[gpu]'"
        ) from None
    faiss.omp_set_num_threads(cpu_threads())
    return faiss


@contextmanager
def faiss_threads(n: int | None) -> Iterator[None]:
    """FAISS' OpenMP threads set to ``n`` (None: every core) inside the block, every core after."""
    faiss = import_faiss()
    if n:
        faiss.omp_set_num_threads(min(int(n), cpu_threads()))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(cpu_threads())


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


@dataclass(frozen=True)
class Measured:
    """One configuration as measured at build time on the stored-vector sample."""

    kind: str
    params: dict[str, int]
    recall_at_10: float
    ms_per_query: float
    build_s: float
    meets_target: bool


@dataclass
class VectorIndex:
    """A built FAISS index: its type, search parameters, the device it searches on and, when
    it was measured at build time, what it measured (and the other candidates' results).
    ``params["threads"]``, when set, is the number of threads one search runs on: measured at
    build time, because a single query split over cores that other work keeps busy can be several
    times slower than on one (OpenMP waits for every thread)."""

    index: Any
    kind: str
    device: str = "cpu"
    params: dict[str, int] = field(default_factory=dict)
    measured: Measured | None = None
    target_recall: float | None = None
    sample_queries: int | None = None
    tried: list[Measured] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _gpu_resources: Any = None
    _cpu_index: Any = None  # on a GPU: the CPU index it was copied from (what save writes)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores [Q, k], row ids [Q, k]); ids are -1 where fewer than k exist."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.index.d:
            raise IndexStoreError(f"query has dimension {q.shape[1]}, the index {self.index.d}")
        k = max(1, min(int(k), max(1, self.ntotal)))
        if self.device == "cpu" and self.kind in IVF_KINDS:  # one query: over its cells
            _ivf_part(self.index).parallel_mode = 1 if len(q) == 1 else 0  # a batch: over the queries
        with faiss_threads(self.params.get("threads")):
            scores, ids = self.index.search(q, k)
        return scores, ids

    def save(self, path: str | Path) -> None:
        faiss = import_faiss()
        idx = self.index
        if self.device != "cpu":
            idx = self._cpu_index if self._cpu_index is not None else faiss.index_gpu_to_cpu(idx)
        faiss.write_index(idx, str(path))

    def describe(self) -> dict[str, Any]:
        """``{"kind", "params", "recall_at_10", "ms_per_query", "device"}`` (None where not measured)."""
        m = self.measured
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "recall_at_10": m.recall_at_10 if m else None,
            "ms_per_query": m.ms_per_query if m else None,
            "device": self.device,
        }


def ivf_nlist(n: int) -> int:
    """IVF cells for ``n`` vectors: the power of two nearest ``2 * sqrt(n)``, at least 1, at
    most ``n / 39`` (FAISS wants >= 39 training points per centroid)."""
    if n < 1:
        return 1
    p = 2 ** round(math.log2(max(1.0, 2 * math.sqrt(n))))
    return max(1, min(p, n // 39))


def gpu_available() -> bool:
    faiss = import_faiss()
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _as_rows(vectors: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise IndexStoreError(f"vectors must be [N, D], got shape {x.shape}")
    return x


def _check_kind(kind: str) -> None:
    if kind != "auto" and kind not in INDEX_TYPES:
        raise ConfigError(f"unknown index type {kind!r}; valid: auto, {', '.join(INDEX_TYPES)}")


def exact_index(
    vectors: np.ndarray, *, params: dict[str, int] | None = None, device: str = "auto"
) -> VectorIndex:
    """Exact flat search over ``vectors``, nothing measured (a snapshot's in-memory index)."""
    vi = _flat(_as_rows(vectors))
    vi.params = dict(params or {})
    return _to_device(vi, device)


def build_index(
    vectors: np.ndarray,
    kind: str = "auto",
    *,
    device: str = "auto",
    seed: int = 0,
    auto: AutoConfig | None = None,
) -> VectorIndex:
    """Build a ``kind`` index (``auto`` or one of ``INDEX_TYPES``) over unit rows
    ``vectors``. ``auto`` chooses by :class:`AutoConfig` (default: recall@10 >= 0.95); an
    approximate kind asked for by name gets its search parameter tuned to the same target (the
    largest tried when none meets it)."""
    _check_kind(kind)
    x = _as_rows(vectors)
    cfg = auto or AutoConfig(seed=seed)
    if kind == "auto":
        vi = _build_auto(x, cfg)
    elif kind == "flat":
        vi = _flat(x)
        _time_flat(vi, x, cfg)
    else:
        if len(x) <= RECALL_K:  # too few rows to measure: exact search's answer anyway
            # no rows: nothing to train cells on (an untrained IVF cannot even be searched)
            vi = _flat(x) if kind == "hnsw" or not len(x) else _build_kind(x, kind, cfg.seed)
        else:
            cal = Calibration(x, cfg)
            t = time.perf_counter()
            vi = _build_kind(x, kind, cfg.seed)
            _tune(vi, cal, time.perf_counter() - t, sweep_to_end=True)
            vi.target_recall, vi.sample_queries = cfg.target_recall, len(cal.ids)
            assert vi.measured is not None
            vi.tried = [vi.measured]
    return _to_device(vi, device)


# -- measuring on the data itself ----------------------------------------------------------------
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


def measure_recall(vi: VectorIndex, vectors: np.ndarray, cfg: AutoConfig | None = None) -> float:
    """Recall@10 of ``vi`` measured again on the queries ``auto`` used (the same ``AutoConfig``
    and vectors give the same queries)."""
    return Calibration(_as_rows(vectors), cfg or AutoConfig()).recall(vi.search)


# -- the kinds ---------------------------------------------------------------------------------------
def _flat(x: np.ndarray) -> VectorIndex:
    index = import_faiss().IndexFlatIP(x.shape[1])
    if len(x):
        index.add(x)
    return VectorIndex(index=index, kind="flat")


def _time_flat(vi: VectorIndex, x: np.ndarray, cfg: AutoConfig) -> None:
    """Exact search: recall 1 by construction; only its latency is measured (first rows as queries)."""
    ms = _fastest_threads(vi, lambda: ms_per_query(vi.search, x[: cfg.timing_queries], min(RECALL_K, len(x))))
    vi.measured = Measured("flat", {}, 1.0, round(ms, 4), 0.0, True)
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


@dataclass
class IvfCells:
    """Trained k-means cells (the coarse quantizer) and every row's cell: what the IVF kinds
    share, so ``auto`` trains and assigns once for all of them."""

    quantizer: Any
    nlist: int
    assign: np.ndarray  # [N] int64 cell of each row
    train: np.ndarray  # the rows the cells were trained on (also the scalar quantizer's sample)


def ivf_cells(x: np.ndarray, seed: int) -> IvfCells:
    """``ivf_nlist(N)`` k-means cells of ``x`` (trained on ``IVF_TRAIN_PER_CELL`` rows a cell, a
    deterministic sample, ``IVF_KMEANS_ITERATIONS`` iterations) and each row's nearest cell."""
    faiss = import_faiss()
    n, d = x.shape
    nlist = ivf_nlist(n)
    train = x
    if n > IVF_TRAIN_PER_CELL * nlist:  # k-means on a deterministic sample: training cost
        rng = np.random.default_rng(seed)  # grows with nlist * sample, not nlist * N
        train = np.ascontiguousarray(x[np.sort(rng.choice(n, IVF_TRAIN_PER_CELL * nlist, replace=False))])
    quantizer = faiss.IndexFlatIP(d)
    assign = np.zeros(n, np.int64)
    if n:
        trainer = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        trainer.cp.seed, trainer.cp.niter = seed, IVF_KMEANS_ITERATIONS
        trainer.train(train)  # IVF's own k-means: trains the quantizer
        _, nearest = quantizer.search(x, 1)
        assign = np.ascontiguousarray(nearest[:, 0], dtype=np.int64)
    return IvfCells(quantizer=quantizer, nlist=nlist, assign=assign, train=train)


def _build_kind(x: np.ndarray, kind: str, seed: int, cells: IvfCells | None = None) -> VectorIndex:
    faiss = import_faiss()
    n, d = x.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if n:
            index.add(x)
        return VectorIndex(
            index=index, kind=kind, params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        )
    cells = cells or ivf_cells(x, seed)
    nlist, quantizer = cells.nlist, cells.quantizer
    if kind == "ivf":
        ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    else:  # ivf_sq8, ivf_sq8_refine: the scalar quantizer's ranges come from the cells' sample
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        if n:
            ivf.train(cells.train)  # the cells are trained: codes only
    if n:  # rows go to the cells already computed (no second nearest-cell search)
        ivf.add_core(n, faiss.swig_ptr(x), None, faiss.swig_ptr(cells.assign))
    ivf.parallel_mode = 1  # one query's probed cells are scanned on every core
    params = {"nlist": nlist, "nprobe": 1}
    index = ivf
    if kind == "ivf_sq8_refine":
        exact = faiss.IndexFlatIP(d)
        if n:
            exact.add(x)
        index = faiss.IndexRefine(ivf, exact)
        index.k_factor = float(REFINE_K_FACTOR)
        params["k_factor"] = REFINE_K_FACTOR
    vi = VectorIndex(index=index, kind=kind, params=params)
    _set_search_param(vi, max(1, nlist // LEGACY_IVF_PROBE_FRACTION))
    return vi


def _ivf_part(index: Any) -> Any:
    """The IVF index inside ``index`` (itself, or the base of a refine index). Called on every
    search: FAISS is imported already (an index exists), so its thread setup is not redone."""
    import faiss

    return faiss.extract_index_ivf(index)


def _search_param(kind: str) -> str:
    return "efSearch" if kind == "hnsw" else "nprobe"


def _set_search_param(vi: VectorIndex, value: int) -> None:
    if vi.kind == "hnsw":
        vi.index.hnsw.efSearch = int(value)
    elif vi.kind in IVF_KINDS:
        _ivf_part(vi.index).nprobe = int(value)
    vi.params[_search_param(vi.kind)] = int(value)


def _tune(vi: VectorIndex, cal: Calibration, build_s: float, *, sweep_to_end: bool = False) -> Measured:
    """Smallest search parameter (doubling, then bisecting) whose recall meets the target; sets
    it on ``vi`` and records the measurement. Without one: the largest tried (``meets_target``
    False). ``auto`` stops IVF at half the cells (beyond, it scans most of the data)."""
    target = cal.cfg.target_recall
    if vi.kind == "hnsw":
        values = [ef for ef in (16, 32, 64, 128, 256, 512, 1024, 2048) if ef >= cal.k]
    else:
        nlist = vi.params["nlist"]
        top = nlist if sweep_to_end else max(1, nlist // 2)
        values = [p for p in (2**i for i in range(20)) if p <= top]
    recalls: dict[int, float] = {}

    def recall_at(v: int) -> float:
        if v not in recalls:
            _set_search_param(vi, v)
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
    _set_search_param(vi, best)
    ms = _fastest_threads(vi, lambda: cal.ms_per_query(vi.search))
    vi.measured = Measured(
        vi.kind, dict(vi.params), round(recall, 4), round(ms, 4), round(build_s, 2), recall >= target
    )
    return vi.measured


def _build_auto(x: np.ndarray, cfg: AutoConfig) -> VectorIndex:
    n = len(x)
    if n <= max(cfg.flat_small_n, RECALL_K):
        vi = _flat(x)
        _time_flat(vi, x, cfg)
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
    flat = Measured("flat", {"threads": flat_threads}, 1.0, round(flat_ms, 4), 0.0, True)
    tried, notes = [flat], []
    best: VectorIndex | None = None
    if flat_ms > cfg.flat_fast_ms:
        cells: IvfCells | None = None
        cells_s = 0.0
        for kind in ("ivf", "ivf_sq8_refine", "hnsw"):
            if best is not None and best.measured is not None and best.measured.ms_per_query <= cfg.enough_ms:
                break
            if kind == "hnsw":
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
            vi = _build_kind(x, kind, cfg.seed, cells)
            # a candidate's build time is what it would cost alone: the shared cells included
            build_s = time.perf_counter() - t + (cells_s if kind in IVF_KINDS else 0.0)
            m = _tune(vi, cal, build_s)
            tried.append(m)
            if m.meets_target and (best is None or m.ms_per_query < best.measured.ms_per_query):  # type: ignore[union-attr]
                best = vi
            del vi
    if best is None or best.measured is None or best.measured.ms_per_query >= flat_ms:
        if flat_ms > cfg.flat_fast_ms:
            notes.append(
                f"no approximate index met recall@{cal.k} >= {cfg.target_recall} faster than exact search"
            )
        best = _flat(x)
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
    _build_kind(np.ascontiguousarray(x[rows]), "hnsw", seed)
    s = time.perf_counter() - t
    return s * (n / m) * (math.log(max(n, 2)) / math.log(max(m, 2)))


# -- devices and files ---------------------------------------------------------------------------
def _to_device(vi: VectorIndex, device: str) -> VectorIndex:
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(f"index device {device!r} is not one of auto, cpu, cuda")
    if device == "cpu" or vi.kind == "hnsw":
        if device.startswith("cuda") and vi.kind == "hnsw":
            raise DeviceError("FAISS has no GPU HNSW index; use device='cpu' or index type 'flat'/'ivf'")
        return vi
    has_gpu = gpu_available()
    if not has_gpu:
        if device.startswith("cuda"):
            raise DeviceError(
                "FAISS GPU search asked for, but faiss has no GPU support here (install faiss-gpu, "
                "pip install 'videopipe[gpu]') or no GPU is visible"
            )
        return vi
    faiss = import_faiss()
    gpu_id = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
    res = faiss.StandardGpuResources()
    if vi.kind == "ivf_sq8_refine":
        # the codes are scanned on the GPU; the exact re-rank of the few candidates stays on the
        # CPU (IndexRefine reads the float rows through a CPU distance computer)
        gpu_base = faiss.index_cpu_to_gpu(res, gpu_id, _ivf_part(vi.index))
        gpu_base.nprobe = _ivf_part(vi.index).nprobe
        gpu_index = faiss.IndexRefine(gpu_base, vi.index.refine_index)
        gpu_index.k_factor = vi.index.k_factor
        res = (res, gpu_base, vi.index)  # kept alive with the index
    else:
        gpu_index = faiss.index_cpu_to_gpu(res, gpu_id, vi.index)
        if vi.kind in IVF_KINDS:
            gpu_index.nprobe = vi.index.nprobe  # GPU IVF searches at most 2048 probes
    return VectorIndex(
        index=gpu_index,
        kind=vi.kind,
        device=f"cuda:{gpu_id}",
        params=vi.params,
        measured=vi.measured,
        target_recall=vi.target_recall,
        sample_queries=vi.sample_queries,
        tried=vi.tried,
        notes=vi.notes,
        _gpu_resources=res,
        _cpu_index=vi.index,
    )


def load_index(
    path: str | Path, kind: str, *, params: dict[str, int] | None = None, device: str = "auto"
) -> VectorIndex:
    """Read an index written by :meth:`VectorIndex.save` and set its search parameter from
    ``params`` (the snapshot's record); without one (older snapshots), the fixed values they
    were built with (IVF: ``nprobe = nlist / 8``, HNSW: ``efSearch = 128``)."""
    faiss = import_faiss()
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexStoreError(f"FAISS index file {path} cannot be read ({e}); rebuild the index") from None
    vi = VectorIndex(index=index, kind=kind, params=dict(params or {}))
    name = _search_param(kind)
    if kind in IVF_KINDS:
        ivf = _ivf_part(index)
        ivf.parallel_mode = 1
        vi.params.setdefault("nlist", int(ivf.nlist))
        if kind == "ivf_sq8_refine":
            index.k_factor = float(vi.params.setdefault("k_factor", int(index.k_factor)))
        _set_search_param(vi, vi.params.get(name, max(1, ivf.nlist // LEGACY_IVF_PROBE_FRACTION)))
    elif kind == "hnsw":
        _set_search_param(vi, vi.params.get(name, LEGACY_HNSW_EF_SEARCH))
    return _to_device(vi, device)


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` inner product with numpy (the baseline, and small filtered searches)."""
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    n = vectors.shape[0]
    k = max(0, min(int(k), n))
    if k == 0:
        return np.zeros((q.shape[0], 0), np.float32), np.zeros((q.shape[0], 0), np.int64)
    scores = q @ vectors.T
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(n), (q.shape[0], 1))
    top = np.take_along_axis(scores, part, 1)
    order = np.argsort(-top, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, 1).astype(np.int64)
    return np.take_along_axis(top, order, 1), ids
