"""The FAISS index kinds (:class:`IndexKind`) and what builds, searches and moves each: the
built index (:class:`VectorIndex`), the IVF cells the IVF kinds share, search parameters, and
the move to a GPU. How ``auto`` chooses among them is :mod:`videopipe.retrieval.faiss_auto`;
the public entry points are in :mod:`videopipe.retrieval.faiss_index`."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.enums import ValueEnum
from videopipe.errors import ConfigError, DeviceError, IndexStoreError, MissingDependencyError


class IndexKind(ValueEnum):
    """A FAISS index type (the values are what snapshots and the CLI name them)."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"
    IVF_SQ8 = "ivf_sq8"
    IVF_SQ8_REFINE = "ivf_sq8_refine"


INDEX_TYPES = tuple(k.value for k in IndexKind)
# an IVF index searched by nprobe (maybe inside a refine)
IVF_KINDS = (IndexKind.IVF, IndexKind.IVF_SQ8, IndexKind.IVF_SQ8_REFINE)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 48
IVF_TRAIN_PER_CELL = 40  # FAISS wants >= 39 training points per centroid
IVF_KMEANS_ITERATIONS = 10
REFINE_K_FACTOR = 2  # ivf_sq8_refine rescores the codes' best 2k (4k measured no better at 1M)
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
class Measured:
    """One configuration as measured at build time on the stored-vector sample."""

    kind: IndexKind
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
    kind: IndexKind
    device: str = "cpu"
    params: dict[str, int] = field(default_factory=dict)
    measured: Measured | None = None
    target_recall: float | None = None
    sample_queries: int | None = None
    tried: list[Measured] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _gpu_resources: Any = None
    _cpu_index: Any = None  # on a GPU: the CPU index it was copied from (what save writes)

    def __post_init__(self) -> None:
        self.kind = IndexKind(self.kind)

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
            ivf_part(self.index).parallel_mode = 1 if len(q) == 1 else 0  # a batch: over the queries
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


def flat_index(x: np.ndarray) -> VectorIndex:
    index = import_faiss().IndexFlatIP(x.shape[1])
    if len(x):
        index.add(x)
    return VectorIndex(index=index, kind=IndexKind.FLAT)


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


def build_kind(x: np.ndarray, kind: IndexKind | str, seed: int, cells: IvfCells | None = None) -> VectorIndex:
    faiss = import_faiss()
    n, d = x.shape
    kind = IndexKind(kind)
    if kind is IndexKind.HNSW:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if n:
            index.add(x)
        return VectorIndex(
            index=index, kind=kind, params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        )
    cells = cells or ivf_cells(x, seed)
    nlist, quantizer = cells.nlist, cells.quantizer
    if kind is IndexKind.IVF:
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
    if kind is IndexKind.IVF_SQ8_REFINE:
        exact = faiss.IndexFlatIP(d)
        if n:
            exact.add(x)
        index = faiss.IndexRefine(ivf, exact)
        index.k_factor = float(REFINE_K_FACTOR)
        params["k_factor"] = REFINE_K_FACTOR
    vi = VectorIndex(index=index, kind=kind, params=params)
    set_search_param(vi, max(1, nlist // LEGACY_IVF_PROBE_FRACTION))
    return vi


def ivf_part(index: Any) -> Any:
    """The IVF index inside ``index`` (itself, or the base of a refine index). Called on every
    search: FAISS is imported already (an index exists), so its thread setup is not redone."""
    import faiss

    return faiss.extract_index_ivf(index)


def search_param(kind: IndexKind | str) -> str:
    return "efSearch" if kind == IndexKind.HNSW else "nprobe"


def set_search_param(vi: VectorIndex, value: int) -> None:
    if vi.kind is IndexKind.HNSW:
        vi.index.hnsw.efSearch = int(value)
    elif vi.kind in IVF_KINDS:
        ivf_part(vi.index).nprobe = int(value)
    vi.params[search_param(vi.kind)] = int(value)


def to_device(vi: VectorIndex, device: str) -> VectorIndex:
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(f"index device {device!r} is not one of auto, cpu, cuda")
    if device == "cpu" or vi.kind is IndexKind.HNSW:
        if device.startswith("cuda") and vi.kind is IndexKind.HNSW:
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
    if vi.kind is IndexKind.IVF_SQ8_REFINE:
        # the codes are scanned on the GPU; the exact re-rank of the few candidates stays on the
        # CPU (IndexRefine reads the float rows through a CPU distance computer)
        gpu_base = faiss.index_cpu_to_gpu(res, gpu_id, ivf_part(vi.index))
        gpu_base.nprobe = ivf_part(vi.index).nprobe
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
