"""Benchmark ``auto`` FAISS index selection against the old fixed choice and exact search.

For N clip vectors (dim 384, the MiniLM text space) of each synthetic kind of
``videopipe.testing.vectors`` (clustered; unstructured: no clusters, a power-law spectrum;
isotropic: uniform on the sphere, the worst case, small sizes only), it measures in one run:

- ``auto``: what ``build_index(x, "auto")`` chose (kind, parameters, the recall and latency it
  measured on its stored-vector sample) and its whole build time (the measuring included);
- ``fixed``: the old fixed choice, the baseline: exact flat up to 200,000 vectors, else
  ``IndexIVFFlat`` with sqrt(N) cells and ``nprobe = nlist / 8`` (same threads as ``auto``);
- for both: ms per query (top-10, one query at a time, median over many queries) and recall@10
  against exact search, on queries *near* stored vectors (a stored vector plus noise, like a
  paraphrase of its clip), which the build never saw;
- where one ``auto`` build tried both ``ivf`` and ``ivf_sq8_refine`` (same cells, same calibration
  queries), the two side by side: the float scan against the 8-bit scan with the exact re-rank.

FAISS uses every core (``import_faiss`` sets its threads). Usage: ``python benchmarks/retrieval.py``
(10k, 100k, 1M) or ``--quick``. Writes ``benchmarks/results/retrieval.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

from videopipe.retrieval.faiss_index import (  # noqa: E402
    AutoConfig,
    VectorIndex,
    build_index,
    cpu_threads,
    import_faiss,
    ms_per_query,
)
from videopipe.testing.vectors import DIM, synthetic_vectors  # noqa: E402

K = 10
OLD_FLAT_MAX = 200_000


def queries_near(x: np.ndarray, q: int, seed: int = 1) -> np.ndarray:
    """Queries near stored vectors (a paraphrase is near, not at, its clip)."""
    rng = np.random.default_rng(seed)
    base = x[rng.choice(len(x), q, replace=False)]
    y = base + rng.standard_normal(base.shape).astype(np.float32) * (0.6 / np.sqrt(x.shape[1]))
    return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


def recall_at_k(x: np.ndarray, qs: np.ndarray, ids: np.ndarray, kth: np.ndarray) -> float:
    """Returned rows whose exact score reaches the k-th exact score (ties count), per query / k."""
    hits = [np.count_nonzero(x[r[r >= 0]] @ q >= t - 1e-5) for q, r, t in zip(qs, ids, kth)]
    return float(np.sum(hits) / (K * len(qs)))


def best_of_threads(measure) -> float:
    """The faster of ``measure()`` with FAISS on one thread and on every core."""
    faiss = import_faiss()
    times = []
    for n in sorted({1, cpu_threads()}):
        faiss.omp_set_num_threads(n)
        times.append(measure())
    faiss.omp_set_num_threads(cpu_threads())
    return min(times)


def fixed_choice(x: np.ndarray) -> VectorIndex:
    """The choice ``auto`` made before it measured: flat up to 200k, else IVF sqrt(N), nprobe/8."""
    faiss = import_faiss()
    n, d = x.shape
    if n <= OLD_FLAT_MAX:
        index = faiss.IndexFlatIP(d)
        index.add(x)
        return VectorIndex(index=index, kind="flat")
    nlist = max(1, min(int(math.sqrt(n)), n // 39))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed, index.cp.niter = 0, 10
    rng = np.random.default_rng(0)
    index.train(x[np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))])
    index.add(x)
    index.nprobe = max(1, nlist // 8)
    return VectorIndex(index=index, kind="ivf", params={"nlist": nlist, "nprobe": index.nprobe})


def bench(n: int, data: str, *, n_queries: int, n_single: int, emit) -> None:
    faiss = import_faiss()
    x = synthetic_vectors(n, data)
    qs = queries_near(x, n_queries)
    t = time.perf_counter()
    exact_scores, _ = faiss.knn(qs, x, K, metric=faiss.METRIC_INNER_PRODUCT)
    exact_batch_ms = (time.perf_counter() - t) / len(qs) * 1e3
    kth = exact_scores[:, K - 1]

    def exact(q: np.ndarray, k: int, x: np.ndarray = x) -> object:
        return faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)

    exact_ms = best_of_threads(lambda: ms_per_query(exact, qs[:n_single], K))
    emit(
        {
            "n": n,
            "data": data,
            "method": "exact",
            "kind": "flat",
            "build_s": 0.0,
            "query_ms": round(exact_ms, 3),
            "batch_query_ms": round(exact_batch_ms, 4),
            "recall_at_10": 1.0,
        }
    )
    print(f"  {data:12} n={n:>9,} exact   {exact_ms:8.3f} ms/query", flush=True)
    for method in ("fixed", "auto"):
        gc.collect()
        t = time.perf_counter()
        vi = fixed_choice(x) if method == "fixed" else build_index(x, "auto", device="cpu", auto=AutoConfig())
        build_s = time.perf_counter() - t
        _, ids = vi.search(qs, K)
        if method == "fixed":  # the baseline gets its faster thread count too (auto measured its own)
            times = {}
            for threads in sorted({1, cpu_threads()}):
                vi.params["threads"] = threads
                times[threads] = ms_per_query(vi.search, qs[:n_single], K)
            vi.params["threads"] = min(times, key=times.__getitem__)
            single = times[vi.params["threads"]]
        else:
            single = ms_per_query(vi.search, qs[:n_single], K)
        row = {
            "n": n,
            "data": data,
            "method": method,
            "kind": vi.kind,
            "params": vi.params,
            "build_s": round(build_s, 2),
            "query_ms": round(single, 3),
            "recall_at_10": round(recall_at_k(x, qs, ids, kth), 4),
            "speedup_vs_exact": round(exact_ms / max(single, 1e-9), 1),
            "index_mb": round(len(faiss.serialize_index(vi.index)) / 2**20, 1),
        }
        if method == "auto":
            m = vi.measured
            row["measured_at_build"] = (
                {"recall_at_10": m.recall_at_10, "ms_per_query": m.ms_per_query} if m else None
            )
            row["tried"] = [
                {
                    "kind": t.kind,
                    "params": t.params,
                    "recall_at_10": t.recall_at_10,
                    "ms_per_query": t.ms_per_query,
                    "build_s": t.build_s,
                }
                for t in vi.tried
            ]
            row["notes"] = vi.notes
        emit(row)
        print(
            f"  {data:12} n={n:>9,} {method:6} {vi.kind:5} {vi.params} build {build_s:7.1f} s  "
            f"{single:8.3f} ms/query  recall@10 {row['recall_at_10']:.3f}",
            flush=True,
        )
        del vi
    del x
    gc.collect()


def machine() -> dict:
    faiss = import_faiss()
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "cpu_threads": cpu_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "gpus_for_faiss": int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0,
        "load_avg_at_start": os.getloadavg(),
    }


def _ratio(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def write_markdown(result: dict, path: Path) -> None:
    m = result["machine"]
    lines = [
        "# Retrieval index benchmark: `auto` (chosen by measured recall) vs the old fixed choice",
        "",
        f"`python benchmarks/retrieval.py{' --quick' if result['quick'] else ''}` — synthetic unit vectors, dim {DIM} "
        f"(`videopipe.testing.vectors`), {result['n_queries']} queries near stored vectors (never seen by the build); "
        "recall@10 against exact search; ms/query = median of one-at-a-time top-10 searches; build = whole "
        "`build_index` call (auto: its measuring included).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, faiss {m['faiss']} ({m['faiss_threads']} OpenMP threads), no GPU "
        f"for faiss. Shared with other jobs: load average {m['load_avg_at_start'][0]:.1f} at start, "
        f"{result.get('load_avg_at_end', [0])[0]:.1f} at the end.",
        "",
        "| data | N | method | index (params) | build s | ms/query | x exact | recall@10 | auto measured at build |",
        "|---|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        p = {k: v for k, v in (r.get("params") or {}).items()}
        mb = r.get("measured_at_build")
        lines.append(
            f"| {r['data']} | {r['n']:,} | {r['method']} | {r['kind']} {json.dumps(p) if p else ''} | {r['build_s']:.1f} | "
            f"{r['query_ms']:.3f} | {_ratio(r.get('speedup_vs_exact', 1.0))} | {r['recall_at_10']:.3f} | "
            + (f"recall {mb['recall_at_10']:.3f}, {mb['ms_per_query']:.3f} ms" if mb else "")
            + " |"
        )
    lines += ["", "## Candidates `auto` tried", ""]
    for r in result["rows"]:
        if r["method"] == "auto":
            tried = "; ".join(
                f"{t['kind']} {json.dumps(t['params'])}: recall {t['recall_at_10']:.3f}, {t['ms_per_query']:.3f} ms, "
                f"build {t['build_s']:.1f} s"
                for t in r["tried"]
            )
            notes = (" Notes: " + " ".join(r["notes"])) if r["notes"] else ""
            lines.append(f"- {r['data']} {r['n']:,}: {tried}.{notes}")
    pairs = []  # the two IVF candidates measured on the same cells and queries, in the same build
    for r in result["rows"]:
        by_kind = {t["kind"]: t for t in r.get("tried") or []}
        if "ivf" in by_kind and "ivf_sq8_refine" in by_kind:
            a, b = by_kind["ivf"], by_kind["ivf_sq8_refine"]
            pairs.append(
                f"| {r['data']} | {r['n']:,} | {a['params']['nprobe']} / {b['params']['nprobe']} | "
                f"{a['recall_at_10']:.3f} / {b['recall_at_10']:.3f} | {a['ms_per_query']:.3f} / "
                f"{b['ms_per_query']:.3f} | **{a['ms_per_query'] / max(b['ms_per_query'], 1e-9):.2f}x** |"
            )
    if pairs:
        lines += [
            "",
            "## `ivf_sq8_refine` against `ivf` (both tried by the same `auto` build: same cells, same queries)",
            "",
            "| data | N | nprobe ivf / refine | recall@10 ivf / refine | ms ivf / refine | refine faster |",
            "|---|---:|---|---|---|---:|",
            *pairs,
        ]
    lines += [
        "",
        f"Whole run: {result.get('total_s', 0):.0f} s, peak RSS {result.get('peak_rss_mb', 0):.0f} MB.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k and 30k vectors only (smoke test)")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--data", nargs="*", default=["clustered", "unstructured", "isotropic"])
    ap.add_argument("--isotropic-max", type=int, default=100_000, help="isotropic data only up to this N")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = ap.parse_args()
    sizes = args.sizes or ([10_000, 30_000] if args.quick else [10_000, 100_000, 1_000_000])
    result = {
        "quick": args.quick,
        "n_queries": args.queries,
        "dim": DIM,
        "machine": machine(),
        "auto": {k: getattr(AutoConfig(), k) for k in AutoConfig.__dataclass_fields__},
        "rows": [],
    }
    t0 = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(final: bool = False) -> None:
        result["total_s"] = round(time.perf_counter() - t0, 1)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["load_avg_at_end"] = os.getloadavg()
        result["complete"] = final
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
        write_markdown(result, args.out.with_suffix(".md"))

    def emit(row: dict) -> None:  # saved row by row: a long run killed late keeps them
        result["rows"].append(row)
        save()

    for n in sizes:
        for data in args.data:
            if data == "isotropic" and n > args.isotropic_max:
                continue
            bench(n, data, n_queries=args.queries, n_single=args.single, emit=emit)
    save(final=True)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
