"""Chapters on generated 30-minute lectures: boundary F1 within +-10 s, and the time of
``chapters --titles extract`` once the transcript is cached.

Each lecture (:func:`videopipe.testing.lecture.make_lecture`, one per seed) has 9 topics of
1 to 8 minutes, espeak-ng speech (voice and speed by seed) and slides for one half. Compared in
the same run on the same transcripts: **full** (text + slide changes + scene cuts, the
default), **text only** (``--text speech --no-cuts``) and the baseline **every 5 min** (a
chapter every 300 s: what a tool with no content signal does).

    python benchmarks/chapters.py [--seeds 1 2 4]

Writes benchmarks/results/chapters.json and .md. The first run per seed transcribes 30 minutes
of speech (minutes on a shared CPU); later runs read the cached transcript.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_name  # noqa: E402
from videopipe.chapters.job import find_chapters  # noqa: E402
from videopipe.testing.lecture import boundary_f1, make_lecture  # noqa: E402
from videopipe.text.build import load_timeline  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn):  # noqa: ANN001, ANN202
    w, c = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - w, _cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    from videopipe.embedders.text import TextEmbedder

    embedder = TextEmbedder()
    embedder.embed_texts(["warm up"])  # the model load is not what is measured
    rows = []
    for seed in args.seeds:
        path, lecture = make_lecture(seed)
        load_timeline(path, "speech,screen")  # transcribe once (cached)
        truth = lecture.boundaries
        full, wall, cpu = _timed(lambda p=path: find_chapters(p, embedder=embedder))
        text_only = find_chapters(path, embedder=embedder, text="speech", cuts=False)
        every = [t for t in range(300, int(lecture.duration_s) - 30, 300)]
        rows.append(
            {
                "seed": seed,
                "voice": lecture.voice,
                "topics": [(t.name, round(t.start_s, 1)) for t in lecture.topics],
                "truth": [round(t, 1) for t in truth],
                "found": [round(t, 1) for t in full.boundaries],
                "f1_full": round(boundary_f1(full.boundaries, truth), 3),
                "f1_text_only": round(boundary_f1(text_only.boundaries, truth), 3),
                "f1_every_5min": round(boundary_f1([float(t) for t in every], truth), 3),
                "wall_s_cached": round(wall, 2),
                "cpu_s_cached": round(cpu, 2),
                "titles": [c.title for c in full.chapters],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    mean = {
        k: round(sum(r[k] for r in rows) / len(rows), 3) for k in ("f1_full", "f1_text_only", "f1_every_5min")
    }
    result = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "tolerance_s": 10.0,
        "mean": mean,
        "talks": rows,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "chapters.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# chapters on generated 30-minute lectures",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, load average "
        f"{result['machine']['load_avg_1m']} (shared). Boundary F1 within +-10 s of the true topic changes.",
        "Timing: `find_chapters` with the transcript cached and the embedder loaded (wall / CPU user+sys).",
        "",
        "| seed | voice | topics | F1 full | F1 text only | F1 every 5 min (baseline) | wall s | CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['voice']} | {len(r['topics'])} | {r['f1_full']} | {r['f1_text_only']} | "
            f"{r['f1_every_5min']} | {r['wall_s_cached']} | {r['cpu_s_cached']} |"
        )
    lines.append(f"| mean | | | {mean['f1_full']} | {mean['f1_text_only']} | {mean['f1_every_5min']} | | |")
    (OUT / "chapters.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
