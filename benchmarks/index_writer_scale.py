"""What the single writer and the FAISS build cost for a large archive (the parts of
``videopipe index`` that do not scale with workers), on synthetic clips.

    python benchmarks/index_writer_scale.py            # 10,000 videos x 240 clips (2.4M vectors)
    python benchmarks/index_writer_scale.py --quick    # 200 videos, nothing written

The archive: ``--videos`` one-hour videos of ``--clips`` clips each (240: 20 s windows every 15 s,
the default segmentation, with screen text every window has text), dim 384 (MiniLM), clustered
unit vectors (:func:`~videopipe.testing.vectors.synthetic_vectors`, seeded per video), clip
texts of 200 characters. Each phase runs in a fresh process (its peak RSS is its own):

* ``write``   the driver's writer as an indexing run drives it: one ``write_segment`` and one
              entry per video, a commit (a snapshot of every entry) every 8 videos -- the
              default ``--commit-every``; seconds per video and per commit as the index grows;
* ``reopen``  opening the writer on the full index (a resumed run: every segment is checked);
* ``flat``    ``build_index("flat")``: every segment read and concatenated (exact search
              keeps no file);
* ``ivf``     ``build_index("ivf")``: the same, then k-means cells (``ivf_nlist``: the power
              of two nearest 2 sqrt(N)) trained and every vector added, the file written.

``auto`` at this size measures exact search and tries IVF, IVF+SQ8 and HNSW on top of the IVF
build (benchmarks/results/retrieval.md: 123-172 s at 1M vectors); it is not repeated here.

Writes benchmarks/results/index_writer_scale.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
DIM = 384
COMMIT_EVERY = 8  # the indexer's default


def _config():  # noqa: ANN202 - IndexConfig, imported in the phase's process
    from videopipe.retrieval.store import IndexConfig

    return IndexConfig(
        embedder="text", space="synthetic", dim=DIM, segmentation="fixed:w20:o5", window_s=20.0, overlap_s=5.0
    )


def _usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": round(r.ru_utime + r.ru_stime, 2), "peak_rss_mb": round(r.ru_maxrss / 1024, 1)}


def phase_write(index: Path, videos: int, clips: int) -> dict:
    import numpy as np

    from videopipe.retrieval.store import FileEntry, IndexStore
    from videopipe.testing.vectors import synthetic_vectors

    starts = np.arange(clips, dtype=np.float64) * 15.0
    texts = [f"clip {i:04d} " + "words of a spoken and shown text " * 6 for i in range(clips)]
    texts = [t[:200] for t in texts]
    write_s = gen_s = 0.0
    commits: list[tuple[int, float]] = []  # (entries, seconds)
    t_all = time.perf_counter()
    with IndexStore(index).writer(_config()) as w:
        for v in range(videos):
            t0 = time.perf_counter()
            vectors = synthetic_vectors(clips, seed=v, chunk=clips)
            t1 = time.perf_counter()
            key = f"{v:040x}"
            w.write_segment(key, starts, starts + 20.0, texts, vectors, sources=["speech+screen"] * clips)
            w.put(
                FileEntry(
                    path=f"/archive/talk{v:05d}.mp4", size=10**9 + v, mtime_ns=v, key=key, n_clips=clips
                )
            )
            t2 = time.perf_counter()
            if (v + 1) % COMMIT_EVERY == 0 or v + 1 == videos:
                w.commit()
                commits.append((v + 1, time.perf_counter() - t2))
            gen_s += t1 - t0
            write_s += t2 - t1
    wall = time.perf_counter() - t_all - gen_s
    commit_s = sum(s for _, s in commits)
    # commit seconds at a few sizes (the mean of the 5 commits around each)
    marks = sorted({max(1, len(commits) * q // 10) for q in (1, 5, 10)})
    at = [
        {
            "entries": commits[m - 1][0],
            "commit_s": round(sum(s for _, s in commits[max(0, m - 5) : m]) / 5, 4),
        }
        for m in marks
    ]
    snap = max((index / "snapshots").iterdir(), key=lambda p: p.stat().st_mtime)
    return {
        "videos": videos,
        "clips": videos * clips,
        "writer_s": round(wall, 2),
        "write_segment_s_per_video": round(write_s / videos, 4),
        "commits": len(commits),
        "commit_s_total": round(commit_s, 2),
        "commit_s_at": at,
        "snapshot_mb": round(snap.stat().st_size / 2**20, 2),
        "segments_gb": round(sum(p.stat().st_size for p in (index / "segments").iterdir()) / 2**30, 2),
        **_usage(),
    }


def phase_reopen(index: Path) -> dict:
    from videopipe.retrieval.store import IndexStore

    t0 = time.perf_counter()
    with IndexStore(index).writer(_config()) as w:
        n = len(w.entries)
    return {"entries": n, "reopen_s": round(time.perf_counter() - t0, 2), **_usage()}


def phase_build(index: Path, kind: str) -> dict:
    from videopipe.retrieval.store import IndexStore

    t0 = time.perf_counter()
    with IndexStore(index).writer(_config()) as w:
        t1 = time.perf_counter()
        meta = w.build_index(kind)
    return {
        "kind": meta.kind,
        "params": meta.params,
        "open_s": round(t1 - t0, 2),
        "build_index_s": round(time.perf_counter() - t1, 2),  # reading every segment + the build + commit
        "faiss_build_s": meta.build_s,  # the FAISS build alone
        "faiss_file_mb": round((index / meta.file).stat().st_size / 2**20, 1) if meta.file else 0.0,
        **_usage(),
    }


def _phase(args: list[str]) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise RuntimeError(f"phase {args[0]} failed: {r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    out["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 videos, nothing written")
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--clips", type=int, default=240, help="clips per video (240: one hour, 15 s steps)")
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        name, index = args.phase[0], Path(args.phase[1])
        if name == "write":
            out = phase_write(index, int(args.phase[2]), int(args.phase[3]))
        elif name == "reopen":
            out = phase_reopen(index)
        else:
            out = phase_build(index, name)
        print(json.dumps(out))
        return
    videos = 200 if args.quick else args.videos
    results: dict = {
        "command": "python benchmarks/index_writer_scale.py" + (" --quick" if args.quick else ""),
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: six other jobs ran beside this benchmark",
        },
        "videos": videos,
        "clips_per_video": args.clips,
        "dim": DIM,
        "phases": {},
    }
    with tempfile.TemporaryDirectory(prefix="index-writer-scale-") as tmp:
        index = Path(tmp) / "idx"
        for name, extra in (
            ("write", [str(videos), str(args.clips)]),
            ("reopen", []),
            ("flat", []),
            ("ivf", []),
        ):
            print(f"[{name}] ...", flush=True)
            results["phases"][name] = _phase([name, str(index), *extra])
            print(f"[{name}] {results['phases'][name]}", flush=True)
    results["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=1))
    if not args.quick:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "index_writer_scale.json").write_text(json.dumps(results, indent=1) + "\n")
        (OUT / "index_writer_scale.md").write_text(markdown(results))


def markdown(r: dict) -> str:
    m, p = r["machine"], r["phases"]
    w = p["write"]
    n = r["videos"] * r["clips_per_video"]
    lines = [
        "# The single writer and the FAISS build at archive scale (benchmarks/index_writer_scale.py)",
        "",
        f"`{r['command']}` on {m['cpu']} ({m['cores']} cores), Python {m['python']}. **{m['note']}**: "
        f"load average {m['load_avg_start'][0]} at the start, {m['load_avg_end'][0]} at the end (1-minute).",
        "",
        f"{r['videos']:,} one-hour videos x {r['clips_per_video']} clips = **{n:,} vectors** of dim {r['dim']} "
        f"(float32: {n * r['dim'] * 4 / 2**30:.1f} GiB), synthetic clustered unit vectors, 200-character texts; "
        "each phase in a fresh process.",
        "",
        "| phase | wall s | CPU s | peak RSS MB | what |",
        "|---|---:|---:|---:|---|",
        f"| write | {w['wall_s']} | {w['cpu_s']} | {w['peak_rss_mb']} | {w['write_segment_s_per_video']} s per "
        f"`write_segment`; {w['commits']} commits, {w['commit_s_total']} s in all; segments "
        f"{w['segments_gb']} GiB, last snapshot {w['snapshot_mb']} MB |",
        f"| reopen | {p['reopen']['wall_s']} | {p['reopen']['cpu_s']} | {p['reopen']['peak_rss_mb']} | "
        f"{p['reopen']['reopen_s']} s to open the writer on {p['reopen']['entries']:,} entries (every segment checked) |",
    ]
    for k in ("flat", "ivf"):
        b = p[k]
        lines.append(
            f"| build `{k}` | {b['wall_s']} | {b['cpu_s']} | {b['peak_rss_mb']} | `build_index` {b['build_index_s']} s "
            f"(FAISS alone {b['faiss_build_s']} s) {json.dumps(b['params'])}, file {b['faiss_file_mb']} MB |"
        )
    lines += [
        "",
        "Commit seconds as the index grows (a commit writes a snapshot of every entry):",
        "",
        "| entries | s per commit |",
        "|---:|---:|",
        *[f"| {a['entries']:,} | {a['commit_s']} |" for a in w["commit_s_at"]],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
