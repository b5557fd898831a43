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

``auto`` (:func:`~videopipe.retrieval.faiss_auto.build_auto`, knobs in :class:`AutoConfig`) chooses by a recall target
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

This module is the public face; the kinds live in :mod:`videopipe.retrieval.faiss_kinds` and
``auto``'s measuring in :mod:`videopipe.retrieval.faiss_auto`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from videopipe.errors import ConfigError, IndexStoreError
from videopipe.retrieval.faiss_auto import (
    HNSW_ESTIMATE_SAMPLE,
    RECALL_K,
    AutoConfig,
    Calibration,
    build_auto,
    ms_per_query,
    time_flat,
    tune,
)
from videopipe.retrieval.faiss_kinds import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    INDEX_TYPES,
    IVF_KINDS,
    IVF_KMEANS_ITERATIONS,
    IVF_TRAIN_PER_CELL,
    LEGACY_HNSW_EF_SEARCH,
    LEGACY_IVF_PROBE_FRACTION,
    REFINE_K_FACTOR,
    IndexKind,
    IvfCells,
    Measured,
    VectorIndex,
    build_kind,
    cpu_threads,
    faiss_threads,
    flat_index,
    gpu_available,
    import_faiss,
    ivf_cells,
    ivf_nlist,
    ivf_part,
    search_param,
    set_search_param,
    to_device,
)

# the names these had when they were private to this module
_build_kind, _set_search_param = build_kind, set_search_param

__all__ = [
    "HNSW_EF_CONSTRUCTION",
    "HNSW_ESTIMATE_SAMPLE",
    "HNSW_M",
    "INDEX_TYPES",
    "IVF_KINDS",
    "IVF_KMEANS_ITERATIONS",
    "IVF_TRAIN_PER_CELL",
    "LEGACY_HNSW_EF_SEARCH",
    "LEGACY_IVF_PROBE_FRACTION",
    "RECALL_K",
    "REFINE_K_FACTOR",
    "AutoConfig",
    "Calibration",
    "IndexKind",
    "IvfCells",
    "Measured",
    "VectorIndex",
    "build_index",
    "cpu_threads",
    "exact_index",
    "exact_search",
    "faiss_threads",
    "gpu_available",
    "import_faiss",
    "ivf_cells",
    "ivf_nlist",
    "load_index",
    "measure_recall",
    "ms_per_query",
]


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
    vi = flat_index(_as_rows(vectors))
    vi.params = dict(params or {})
    return to_device(vi, device)


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
        vi = build_auto(x, cfg)
    elif kind == IndexKind.FLAT:
        vi = flat_index(x)
        time_flat(vi, x, cfg)
    else:
        if len(x) <= RECALL_K:  # too few rows to measure: exact search's answer anyway
            # no rows: nothing to train cells on (an untrained IVF cannot even be searched)
            vi = flat_index(x) if kind == IndexKind.HNSW or not len(x) else build_kind(x, kind, cfg.seed)
        else:
            cal = Calibration(x, cfg)
            t = time.perf_counter()
            vi = build_kind(x, kind, cfg.seed)
            tune(vi, cal, time.perf_counter() - t, sweep_to_end=True)
            vi.target_recall, vi.sample_queries = cfg.target_recall, len(cal.ids)
            assert vi.measured is not None
            vi.tried = [vi.measured]
    return to_device(vi, device)


def measure_recall(vi: VectorIndex, vectors: np.ndarray, cfg: AutoConfig | None = None) -> float:
    """Recall@10 of ``vi`` measured again on the queries ``auto`` used (the same ``AutoConfig``
    and vectors give the same queries)."""
    return Calibration(_as_rows(vectors), cfg or AutoConfig()).recall(vi.search)


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
    name = search_param(kind)
    if kind in IVF_KINDS:
        ivf = ivf_part(index)
        ivf.parallel_mode = 1
        vi.params.setdefault("nlist", int(ivf.nlist))
        if kind == IndexKind.IVF_SQ8_REFINE:
            index.k_factor = float(vi.params.setdefault("k_factor", int(index.k_factor)))
        set_search_param(vi, vi.params.get(name, max(1, ivf.nlist // LEGACY_IVF_PROBE_FRACTION)))
    elif kind == IndexKind.HNSW:
        set_search_param(vi, vi.params.get(name, LEGACY_HNSW_EF_SEARCH))
    return to_device(vi, device)


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
