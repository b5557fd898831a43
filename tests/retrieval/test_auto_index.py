"""``auto`` FAISS index selection: a recall target measured on the data itself at build time.

Behaviour only, never wall-clock: which kind wins depends on the machine's timings, so the
tests check what holds for any winner (the target met, the record equal to a re-measure, the
fields carried to the snapshot and to ``search --json``). ``AUTO_ROWS`` (environment
``VIDEOPIPE_TEST_AUTO_ROWS``) sizes the synthetic data of the recall tests.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from videopipe.errors import ConfigError
from videopipe.retrieval.faiss_index import (
    IVF_KMEANS_ITERATIONS,
    IVF_TRAIN_PER_CELL,
    AutoConfig,
    _build_kind,
    _set_search_param,
    build_index,
    exact_search,
    ivf_cells,
    load_index,
    measure_recall,
)
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.search import Retriever
from videopipe.testing.cli import run_installed
from videopipe.testing.vectors import synthetic_vectors
from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]
AUTO_ROWS = int(os.environ.get("VIDEOPIPE_TEST_AUTO_ROWS", "20000"))
# every approximate candidate is tried: exact search is never "fast enough" here
TRY_ALL = AutoConfig(flat_small_n=0, flat_fast_ms=0, enough_ms=0)
OPTIONS = IndexOptions(embedder="color", window_s=2, overlap_s=0, frames_per_clip=3)
NEW_FIELDS = ("params", "recall_at_10", "ms_per_query", "target_recall", "sample_queries", "build_s")


@pytest.mark.parametrize("data", ["clustered", "unstructured"])
def test_auto_meets_the_recall_target_measured_on_the_data(data: str, tmp_path: Path) -> None:
    x = synthetic_vectors(AUTO_ROWS, data)
    vi = build_index(x, "auto", device="cpu", auto=TRY_ALL)
    m = vi.measured
    assert vi.kind in ("ivf", "ivf_sq8_refine", "hnsw") and m is not None, vi.notes
    assert m.meets_target and m.recall_at_10 >= TRY_ALL.target_recall
    assert vi.sample_queries == TRY_ALL.sample_queries and vi.target_recall == 0.95
    # the fastest of the candidates that met the target won
    passing = [t for t in vi.tried if t.meets_target]
    assert m.ms_per_query == min(t.ms_per_query for t in passing)
    assert all(t.meets_target == (t.recall_at_10 >= 0.95) for t in vi.tried)
    # the recorded recall is what a re-measure of the saved index gives, and other stored
    # vectors as queries (another sample) find their neighbours about as well
    vi.save(tmp_path / "i.faiss")
    again = load_index(tmp_path / "i.faiss", vi.kind, params=vi.params, device="cpu")
    assert measure_recall(again, x, TRY_ALL) == pytest.approx(m.recall_at_10, abs=1e-4)
    assert measure_recall(again, x, AutoConfig(seed=7)) >= 0.93


def test_the_ivf_kinds_share_cells_and_the_refine_returns_exact_scores() -> None:
    """``ivf_sq8_refine`` scans the same cells as ``ivf`` through 8-bit codes and rescores its
    best 2k with the float rows: its scores are the exact inner products (plain ``ivf_sq8``'s are
    the codes' approximations), and at one ``nprobe`` it finds what ``ivf`` finds."""
    x = synthetic_vectors(AUTO_ROWS, "unstructured")
    cells = ivf_cells(x, 0)
    rng = np.random.default_rng(3)
    q = x[rng.choice(len(x), 200, replace=False)] + 0.03 * rng.standard_normal((200, x.shape[1])).astype(
        np.float32
    )
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    _, truth = exact_search(x, q, 10)
    found = {}
    for kind in ("ivf", "ivf_sq8", "ivf_sq8_refine"):
        vi = _build_kind(x, kind, 0, cells)
        assert vi.params["nlist"] == cells.nlist and vi.ntotal == len(x)
        _set_search_param(vi, 16)
        scores, ids = vi.search(q, 10)
        exact_scores = np.einsum("qd,qkd->qk", q, x[ids])
        err = float(np.abs(scores - exact_scores).max())
        assert (err < 1e-5) == (kind != "ivf_sq8"), (kind, err)
        found[kind] = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist())])
    assert found["ivf_sq8_refine"] >= found["ivf"] - 0.01 and found["ivf_sq8_refine"] >= found["ivf_sq8"]


def test_ivf_built_from_shared_cells_equals_faiss_own_build() -> None:
    """The cells are trained once and every row assigned once (``ivf_cells``); the IVF built from
    them answers exactly as FAISS' own ``train`` + ``add`` of the same cells and seed."""
    import faiss

    x = synthetic_vectors(8000, "clustered")
    vi = _build_kind(x, "ivf", 0)
    nlist = vi.params["nlist"]
    ref = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ref.cp.seed, ref.cp.niter = 0, IVF_KMEANS_ITERATIONS
    rows = np.sort(np.random.default_rng(0).choice(len(x), IVF_TRAIN_PER_CELL * nlist, replace=False))
    ref.train(x[rows])
    ref.add(x)
    ref.nprobe = 4
    _set_search_param(vi, 4)
    q = x[:100] + 0.01
    assert np.array_equal(vi.search(q, 10)[1], ref.search(q, 10)[1])


def test_small_index_stays_exact_without_a_build() -> None:
    vi = build_index(synthetic_vectors(2000, "clustered"), "auto", device="cpu")
    assert vi.kind == "flat" and vi.measured is not None
    assert vi.measured.recall_at_10 == 1.0 and vi.tried == [vi.measured] and vi.sample_queries is None


def test_an_unreachable_target_keeps_exact_search() -> None:
    """Uniform vectors in 384-d: no index reaches recall 1 without scanning; HNSW would
    overrun a zero build budget, so exact search is kept and the notes say why."""
    x = synthetic_vectors(3000, "isotropic")
    cfg = AutoConfig(target_recall=1.0, flat_small_n=0, flat_fast_ms=0, build_budget_s=0)
    vi = build_index(x, "auto", device="cpu", auto=cfg)
    assert vi.kind == "flat" and vi.measured is not None and vi.measured.recall_at_10 == 1.0
    assert [t.kind for t in vi.tried] == ["flat", "ivf", "ivf_sq8_refine"]
    assert not any(t.meets_target for t in vi.tried[1:])
    assert any("hnsw skipped" in n for n in vi.notes) and any("no approximate index" in n for n in vi.notes)


def test_auto_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="target_recall"):
        AutoConfig(target_recall=0)
    with pytest.raises(ConfigError, match="sample_queries"):
        AutoConfig(sample_queries=3)


# -- the record in the snapshot, old snapshots, the CLI ------------------------------------------------
@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("auto") / "videos"
    d.mkdir()
    for i, color in enumerate(("red", "green", "blue", "yellow")):
        shutil.copy(
            make_video(scenes_video((50, 50, 50, 50), seed=10 + i, needle=(i, color))), d / f"{color}.mp4"
        )
    return d


@pytest.mark.parametrize("kind", ["ivf", "ivf_sq8_refine"])
def test_snapshot_records_the_measured_index_and_search_json_shows_it(
    kind: str, videos: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    flags = ["--embedder", "color", "--window-s", "2", "--overlap-s", "0", "--frames-per-clip", "3"]
    r = run_installed("index", str(videos), "--index", str(idx), *flags, "--index-type", kind, "--json", "-q")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["index"]
    snap = Retriever(idx).snapshot
    meta = snap.faiss
    assert meta is not None and meta.kind == kind and meta.file
    want = {"nlist", "nprobe", "threads"} | ({"k_factor"} if kind == "ivf_sq8_refine" else set())
    assert report == meta.describe() and set(meta.params or {}) == want
    assert meta.target_recall == 0.95 and meta.sample_queries == len(snap) and meta.ms_per_query is not None
    # what the snapshot records is what measuring the index it names gives again
    assert measure_recall(snap.vector_index(device="cpu"), snap.vectors) == pytest.approx(meta.recall_at_10)

    r = run_installed("search", "red", "--index", str(idx), "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)["faiss"]
    assert {k: shown[k] for k in ("kind", "params", "recall_at_10", "ms_per_query")} == meta.describe()
    assert shown["device"] == "cpu" or shown["device"].startswith("cuda")


def test_old_snapshots_without_the_measured_fields_still_load_and_search(
    videos: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    index_paths([videos], idx, OPTIONS, index_type="ivf")
    want = [(h.video, h.start_s, h.score) for h in Retriever(idx).search("blue screen", 6)]
    snap_file = idx / "snapshots" / f"{int((idx / 'CURRENT').read_text()):08d}.json"
    data = json.loads(snap_file.read_text())
    for name in NEW_FIELDS:  # what snapshots held before auto measured
        del data["faiss"][name]
    snap_file.write_text(json.dumps(data))
    r = Retriever(idx)
    assert r.snapshot.faiss is not None and r.snapshot.faiss.params is None
    got = [(h.video, h.start_s, h.score) for h in r.search("blue screen", 6)]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert np.allclose([g[2] for g in got], [w[2] for w in want], atol=1e-5)
    info = r.index_info()
    assert info["kind"] == "ivf" and info["recall_at_10"] is None and info["ms_per_query"] is None
    vi = r.snapshot.vector_index(device="cpu")
    assert vi.params["nprobe"] == max(1, vi.params["nlist"] // 8)  # the fixed value they were built with


def test_small_index_records_exact_search(videos: Path, tmp_path: Path) -> None:
    report = index_paths([videos], tmp_path / "idx", OPTIONS)
    assert report.index_kind == "flat" and report.index["recall_at_10"] == 1.0
    info = Retriever(tmp_path / "idx").index_info()
    assert info["kind"] == "flat" and info["ms_per_query"] == report.index["ms_per_query"]


@pytest.mark.gpu
def test_auto_ivf_moves_to_the_gpu_with_its_tuned_nprobe() -> None:  # pragma: no cover - needs faiss-gpu
    from videopipe.retrieval.faiss_index import gpu_available

    if not gpu_available():
        pytest.skip("faiss has no GPU support here (install faiss-gpu)")
    x = synthetic_vectors(20_000, "clustered")
    cpu = build_index(x, "ivf", device="cpu")
    gpu = build_index(x, "ivf", device="cuda")
    assert gpu.device.startswith("cuda") and gpu.index.nprobe == cpu.index.nprobe == cpu.params["nprobe"]
    assert measure_recall(gpu, x) >= 0.95


@pytest.mark.gpu
def test_ivf_sq8_refine_scans_on_the_gpu_and_rescores_on_the_cpu(tmp_path: Path) -> None:  # pragma: no cover
    from videopipe.retrieval.faiss_index import gpu_available

    if not gpu_available():
        pytest.skip("faiss has no GPU support here (install faiss-gpu)")
    x = synthetic_vectors(20_000, "unstructured")
    cpu = build_index(x, "ivf_sq8_refine", device="cpu")
    gpu = build_index(x, "ivf_sq8_refine", device="cuda")
    assert gpu.device.startswith("cuda") and gpu.params == cpu.params
    q = x[:50]
    s_cpu, i_cpu = cpu.search(q, 10)
    s_gpu, i_gpu = gpu.search(q, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i_cpu.tolist(), i_gpu.tolist())]) >= 0.97
    assert np.allclose(s_gpu, np.einsum("qd,qkd->qk", q, x[i_gpu]), atol=1e-5)  # exact re-rank
    gpu.save(tmp_path / "g.faiss")  # written in its CPU form
    again = load_index(tmp_path / "g.faiss", "ivf_sq8_refine", params=gpu.params, device="cpu")
    assert np.array_equal(again.search(q, 10)[1], i_cpu)
