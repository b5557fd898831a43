"""Benchmark the FAISS index types of ``videopipe.retrieval.faiss_index`` against exact search.

For N clip vectors (dim 384, the MiniLM text space) of clustered synthetic unit vectors
(a mixture of Gaussian clusters on the sphere, like embeddings of many videos' clips), and for
each index type (flat = exact ``IndexFlatIP``, hnsw, ivf) plus numpy brute force (the
baseline, in the same run), it measures:

- build time and the memory the built index holds (serialised size; RSS growth as a check),
- query latency: one query at a time (interactive search) and a batch of queries,
- recall@10 against exact search.

Usage: ``python benchmarks/retrieval.py`` (10k, 100k, 1M) or ``--quick`` (2k, 10k) while
developing. Writes ``benchmarks/results/retrieval.json`` and ``.md`` (``--out`` to change).
"""

from __future__ import annotations

import os

# One thread for numpy/BLAS and FAISS alike (before numpy is imported): the benchmark machine
# has 2 cores shared with other jobs, where spinning OpenMP threads only add noise.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

from videopipe.retrieval.faiss_index import (  # noqa: E402
    FLAT_MAX,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_PROBE_FRACTION,
    build_index,
    exact_search,
    import_faiss,
    ivf_nlist,
)

DIM = 384
K = 10


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def clustered(n: int, *, dim: int = DIM, clusters: int | None = None, seed: int = 0, chunk: int = 100_000):
    """n unit vectors from ``clusters`` Gaussian clusters (default n/100) with random centres."""
    rng = np.random.default_rng(seed)
    c = clusters or max(10, n // 100)
    centres = rng.standard_normal((c, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        x = centres[rng.integers(0, c, b - a)] + rng.standard_normal((b - a, dim)).astype(np.float32) * (
            0.6 / np.sqrt(dim)
        )
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries_like(x: np.ndarray, q: int, seed: int = 1) -> np.ndarray:
    """Queries near stored vectors (a paraphrase is near, not at, its clip)."""
    rng = np.random.default_rng(seed)
    base = x[rng.choice(len(x), q, replace=False)]
    y = base + rng.standard_normal(base.shape).astype(np.float32) * (0.6 / np.sqrt(x.shape[1]))
    return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


def recall_at_k(ids: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(a) & set(b)) / truth.shape[1] for a, b in zip(ids.tolist(), truth.tolist())])
    )


def time_single(search, qs: np.ndarray) -> float:
    """Median seconds per single-query search (after one warm-up query)."""
    search(qs[:1])
    times = []
    for q in qs:
        t = time.perf_counter()
        search(q[None])
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_size(
    n: int, *, n_queries: int, n_single: int, kinds: list[str], skip: set[tuple[str, int]], emit
) -> None:
    """Measure every index type at size ``n``; ``emit(row)`` gets each result row when done."""
    faiss = import_faiss()
    x = clustered(n)
    qs = queries_like(x, n_queries)
    # baseline: numpy brute force (also the ground truth)
    t = time.perf_counter()
    _, truth = exact_search(x, qs, K)
    batch_s = time.perf_counter() - t
    single_s = time_single(lambda q, x=x: exact_search(x, q, K), qs[:n_single])
    base = {
        "n": n,
        "kind": "numpy",
        "build_s": 0.0,
        "index_mb": round(x.nbytes / 2**20, 1),
        "rss_growth_mb": 0.0,
        "query_ms": round(single_s * 1e3, 3),
        "batch_query_ms": round(batch_s / len(qs) * 1e3, 4),
        "recall_at_10": 1.0,
    }
    emit(base)
    print(f"  n={n:>9,} numpy   query {base['query_ms']:8.3f} ms", flush=True)

    for kind in kinds:
        if (kind, n) in skip:
            emit({"n": n, "kind": kind, "skipped": True})
            print(f"  n={n:>9,} {kind:6} skipped", flush=True)
            continue
        gc.collect()
        r0 = rss_mb()
        t = time.perf_counter()
        vi = build_index(x, kind, device="cpu")
        build_s = time.perf_counter() - t
        growth = rss_mb() - r0
        size_mb = len(faiss.serialize_index(vi.index)) / 2**20
        t = time.perf_counter()
        _, ids = vi.search(qs, K)
        batch = time.perf_counter() - t
        single = time_single(lambda q, vi=vi: vi.search(q, K), qs[:n_single])
        row = {
            "n": n,
            "kind": kind,
            "build_s": round(build_s, 3),
            "index_mb": round(size_mb, 1),
            "rss_growth_mb": round(growth, 1),
            "query_ms": round(single * 1e3, 3),
            "batch_query_ms": round(batch / len(qs) * 1e3, 4),
            "recall_at_10": round(recall_at_k(ids, truth), 4),
            "speedup_vs_numpy": round(base["query_ms"] / max(single * 1e3, 1e-9), 2),
        }
        if kind == "ivf":
            row["params"] = {"nlist": ivf_nlist(n), "nprobe": max(1, ivf_nlist(n) // IVF_PROBE_FRACTION)}
        if kind == "hnsw":
            row["params"] = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
        emit(row)
        print(
            f"  n={n:>9,} {kind:6} build {build_s:8.2f} s  query {row['query_ms']:8.3f} ms "
            f"(x{row['speedup_vs_numpy']} vs numpy)  recall@10 {row['recall_at_10']:.3f}  {size_mb:.0f} MB",
            flush=True,
        )
        del vi
    del x
    gc.collect()


def machine() -> dict:
    faiss = import_faiss()
    cpu = cpu_name()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "gpus_for_faiss": int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0,
        "load_avg_at_start": os.getloadavg(),
    }


def write_markdown(result: dict, path: Path) -> None:
    m = result["machine"]
    lines = [
        "# Retrieval index benchmark",
        "",
        f"`python benchmarks/retrieval.py{' --quick' if result['quick'] else ''}` — clustered synthetic unit "
        f"vectors, dim {DIM}, {result['n_queries']} queries near stored vectors; recall@10 against exact "
        "search; query time = median of one-at-a-time queries (batch = per query in one batch call).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, faiss {m['faiss']} ({m['faiss_threads']} threads), "
        f"no GPU for faiss. Shared with other jobs (load average {m['load_avg_at_start'][0]:.1f} at start), "
        "so absolute times are noisy; ratios in one run are comparable.",
        "",
        "| N | index | build s | index MB | query ms | batch ms/query | speed-up vs numpy | recall@10 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if r.get("skipped"):
            lines.append(f"| {r['n']:,} | {r['kind']} | skipped: {r.get('reason', '')} | | | | | |")
            continue
        lines.append(
            f"| {r['n']:,} | {r['kind']} | {r['build_s']:.2f} | {r['index_mb']:.0f} | {r['query_ms']:.3f} | "
            f"{r['batch_query_ms']:.4f} | {r.get('speedup_vs_numpy', 1.0):.1f} | {r['recall_at_10']:.3f} |"
        )
    lines += [
        "",
        "Parameters: " + json.dumps(result["params"]),
        "",
        "Caveats: clustered data with queries near stored vectors is the friendly case for IVF "
        "(neighbours share a cell); unstructured (random) vectors were not measured and would give "
        "lower approximate recall at the same settings. "
        "Memory is the serialised index (vectors + structure); the vectors alone are N x 1.5 kB. "
        f"Whole run: {result.get('total_s', 0):.0f} s, peak RSS {result.get('peak_rss_mb', 0):.0f} MB.",
        "",
    ]
    lines += ["## What `auto` picks", "", result["conclusion"], ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2k and 10k vectors only (smoke test)")
    ap.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-hnsw-above", type=int, default=10**12, help="skip HNSW builds above this N")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = ap.parse_args()
    sizes = args.sizes or ([2_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])
    kinds = ["flat", "ivf", "hnsw"]
    skip = {("hnsw", n) for n in sizes if n > args.skip_hnsw_above}
    result = {
        "quick": args.quick,
        "n_queries": args.queries,
        "dim": DIM,
        "machine": machine(),
        "params": {
            "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH},
            "ivf": {"nlist": "sqrt(N)", "nprobe": f"nlist/{IVF_PROBE_FRACTION}"},
            "auto_flat_max": FLAT_MAX,
        },
        "rows": [],
    }
    t0 = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(final: bool = False) -> None:
        for r in result["rows"]:
            if r.get("skipped"):
                r["reason"] = f"HNSW build above {args.skip_hnsw_above:,} vectors skipped (--skip-hnsw-above)"
        result["total_s"] = round(time.perf_counter() - t0, 1)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["complete"] = final
        result["conclusion"] = conclusion(result["rows"])
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
        write_markdown(result, args.out.with_suffix(".md"))

    def emit(row: dict) -> None:  # results are saved row by row: a long run killed late keeps them
        result["rows"].append(row)
        save()

    for n in sizes:
        print(f"N = {n:,}", flush=True)
        bench_size(n, n_queries=args.queries, n_single=50, kinds=kinds, skip=skip, emit=emit)
    save(final=True)
    print(result["conclusion"])
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def conclusion(rows: list[dict]) -> str:
    by = {(r["n"], r["kind"]): r for r in rows if not r.get("skipped")}
    parts = []
    for n in sorted({r["n"] for r in rows}):
        flat, ivf, hnsw = by.get((n, "flat")), by.get((n, "ivf")), by.get((n, "hnsw"))
        s = f"N={n:,}: exact flat {flat['query_ms']:.2f} ms/query" if flat else f"N={n:,}:"
        if ivf:
            s += f"; ivf {ivf['query_ms']:.2f} ms (recall {ivf['recall_at_10']:.3f}, build {ivf['build_s']:.1f} s)"
        if hnsw:
            s += f"; hnsw {hnsw['query_ms']:.2f} ms (recall {hnsw['recall_at_10']:.3f}, build {hnsw['build_s']:.1f} s)"
        parts.append(s)
    return (
        f"`auto` uses exact flat search up to {FLAT_MAX:,} vectors and IVF above. " + ". ".join(parts) + "."
    )


if __name__ == "__main__":
    main()
