"""FAISS indexes over unit vectors (inner product = cosine similarity).

Types (``INDEX_TYPES``):

- ``flat``: exact ``IndexFlatIP``; no training, no file on disk needed (rebuilt from vectors).
- ``hnsw``: ``IndexHNSWFlat`` graph (M=32, efConstruction=80, efSearch=128); CPU only.
- ``ivf``:  ``IndexIVFFlat`` with ``nlist ~ sqrt(N)`` k-means cells (trained on at most 64
  points per cell, 10 iterations), ``nprobe = nlist/8``.

``auto`` (:func:`choose_index_type`) picks ``flat`` up to ``FLAT_MAX`` vectors and ``ivf``
above, from ``benchmarks/results/retrieval.md`` (dim 384, one shared CPU core): exact search
costs ~50 ms per query at 100k vectors (~0.1 s at 200k) — small next to loading the query
embedder — and needs no build; at 1M it costs 0.42 s, where IVF answers in 57 ms at
recall@10 0.993 and builds in 88 s. HNSW answers fastest (0.5 ms at 1M) but took 31 minutes
to build 1M vectors (152 s for 100k), and the index is rebuilt whenever the indexed set
changes, so it is only used on request.

With faiss-gpu installed and a GPU present (``faiss.get_num_gpus() > 0``), ``flat`` and
``ivf`` indexes are moved to GPU 0 for search (``device="auto"``); HNSW has no GPU version
and stays on the CPU. Indexes are always saved in their CPU form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import ConfigError, DeviceError, IndexStoreError, MissingDependencyError

INDEX_TYPES = ("flat", "hnsw", "ivf")
FLAT_MAX = 200_000  # auto: exact search up to this many vectors (benchmarks/retrieval.py)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_PROBE_FRACTION = 8  # nprobe = nlist / IVF_PROBE_FRACTION
IVF_TRAIN_PER_CELL = 64
IVF_KMEANS_ITERATIONS = 10


def import_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError(
            "retrieval needs FAISS; install faiss-cpu (pip install faiss-cpu) or, with a GPU, "
            "pip install 'videopipe[gpu]'"
        ) from None
    return faiss


def choose_index_type(n: int) -> str:
    """The index type ``auto`` builds for ``n`` vectors."""
    return "flat" if n <= FLAT_MAX else "ivf"


def ivf_nlist(n: int) -> int:
    """Number of IVF cells for ``n`` vectors: ~sqrt(n), at least 1, at most n / 39 (FAISS
    wants >= 39 training points per centroid)."""
    return max(1, min(int(math.sqrt(n)), n // 39))


def gpu_available() -> bool:
    faiss = import_faiss()
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


@dataclass
class VectorIndex:
    """A built FAISS index, with the type it is and the device it searches on."""

    index: Any
    kind: str
    device: str = "cpu"
    _gpu_resources: Any = None

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores [Q, k], row ids [Q, k]); ids are -1 where fewer than k exist."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.index.d:
            raise IndexStoreError(f"query has dimension {q.shape[1]}, the index {self.index.d}")
        k = max(1, min(int(k), max(1, self.ntotal)))
        scores, ids = self.index.search(q, k)
        return scores, ids

    def save(self, path: str | Path) -> None:
        faiss = import_faiss()
        idx = self.index
        if self.device != "cpu":
            idx = faiss.index_gpu_to_cpu(idx)
        faiss.write_index(idx, str(path))


def build_index(
    vectors: np.ndarray, kind: str = "auto", *, device: str = "auto", seed: int = 0
) -> VectorIndex:
    """Build a ``kind`` index (``auto``, ``flat``, ``hnsw``, ``ivf``) over unit rows ``vectors``."""
    faiss = import_faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise IndexStoreError(f"vectors must be [N, D], got shape {x.shape}")
    n, d = x.shape
    if kind == "auto":
        kind = choose_index_type(n)
    if kind not in INDEX_TYPES:
        raise ConfigError(f"unknown index type {kind!r}; valid: auto, {', '.join(INDEX_TYPES)}")
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        nlist = ivf_nlist(n)
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.cp.niter = IVF_KMEANS_ITERATIONS
        train = x
        if n > IVF_TRAIN_PER_CELL * nlist:  # k-means on a deterministic sample: training cost
            rng = np.random.default_rng(seed)  # grows with nlist * sample, not nlist * N
            train = x[np.sort(rng.choice(n, IVF_TRAIN_PER_CELL * nlist, replace=False))]
        if n:
            index.train(train)
    if n:
        index.add(x)
    _tune(index, kind)
    return _to_device(VectorIndex(index=index, kind=kind), device)


def _tune(index: Any, kind: str) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivf":
        index.nprobe = max(1, index.nlist // IVF_PROBE_FRACTION)


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
    gpu_index = faiss.index_cpu_to_gpu(res, gpu_id, vi.index)
    if vi.kind == "ivf":
        gpu_index.nprobe = vi.index.nprobe
    return VectorIndex(index=gpu_index, kind=vi.kind, device=f"cuda:{gpu_id}", _gpu_resources=res)


def load_index(path: str | Path, kind: str, *, device: str = "auto") -> VectorIndex:
    """Read an index written by :meth:`VectorIndex.save`."""
    faiss = import_faiss()
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexStoreError(f"FAISS index file {path} cannot be read ({e}); rebuild the index") from None
    _tune(index, kind)
    return _to_device(VectorIndex(index=index, kind=kind), device)


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
