"""Chapters on generated 30-minute lectures and a 1-hour one: boundary F1 within +-10 s, and the
time of ``chapters --titles extract`` once the transcript is cached.

Each lecture (:func:`videopipe.testing.lecture.make_lecture`, one per seed) has 9 topics of
1 to 8 minutes, espeak-ng speech (voice and speed by seed) and slides for one half. Compared in
the same run on the same transcripts: **full** (text + slide changes + scene cuts, the
default), **text only** (``--text speech --no-cuts``) and the baseline **every 5 min** (a
chapter every 300 s: what a tool with no content signal does).

Timings per talk (the embedder loaded, the transcript cached): **cold** (the sentence
embeddings not cached yet: the first run after ``transcribe``; float32 and bfloat16 autocast,
whose boundaries are compared), **cached** (a second run: the embeddings are read from the
embedding cache), and for the 1-hour talk the whole **command** ``videopipe chapters VIDEO
--titles extract`` in a new process (Python start, imports, all caches warm).

    python benchmarks/chapters.py [--seeds 1 2 4] [--hour-seed 21]

Writes benchmarks/results/chapters.json and .md. The first run per seed transcribes 30 minutes
of speech (minutes on a shared CPU); later runs read the cached transcript.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_name  # noqa: E402
from videopipe.chapters.job import chapter_sources, find_chapters  # noqa: E402
from videopipe.settings import default_cache_dir  # noqa: E402
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


def _command(path: Path) -> dict:
    """The whole ``videopipe chapters VIDEO --titles extract`` in a new process (caches warm)."""
    cmd = [sys.executable, "-m", "videopipe", "chapters", str(path), "--titles", "extract", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm: the page cache, every cache
    out = {}
    for _ in range(3):
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.setdefault("command_wall_s", []).append(round(time.perf_counter() - w, 2))
        out.setdefault("command_cpu_s", []).append(
            round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 2)
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--hour-seed", type=int, default=21)
    args = ap.parse_args()
    from videopipe.embedders.text import TextEmbedder

    embedder = TextEmbedder()
    embedder.embed_texts(["warm up"])  # the model load is not what is measured
    bf16 = TextEmbedder(dtype="bfloat16")
    bf16.embed_texts(["warm up"])
    rows = []
    talks = [(seed, 1800.0, 9) for seed in args.seeds] + [(args.hour_seed, 3600.0, 14)]
    for seed, duration, n_topics in talks:
        path, lecture = make_lecture(seed, duration_s=duration, n_topics=n_topics)
        timeline = load_timeline(path, chapter_sources(None)[0])  # transcribe once (cached)
        truth = lecture.boundaries
        timings = {}
        for name, emb in (("cold_float32", embedder), ("cold_bfloat16", bf16)):
            with tempfile.TemporaryDirectory() as d:  # the transcript cache, an empty embedding cache
                (Path(d) / "text").symlink_to(default_cache_dir() / "text")
                got, wall, cpu = _timed(lambda p=path, e=emb, c=d: find_chapters(p, embedder=e, cache_dir=c))
            timings[name] = (got, wall, cpu)
        find_chapters(path, embedder=embedder)  # fills the embedding cache
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
                "duration_s": duration,
                "speech_lines": sum(ln.source.value == "speech" for ln in timeline.lines),
                "wall_s_cold_float32": round(timings["cold_float32"][1], 2),
                "cpu_s_cold_float32": round(timings["cold_float32"][2], 2),
                "wall_s_cold_bfloat16": round(timings["cold_bfloat16"][1], 2),
                "cpu_s_cold_bfloat16": round(timings["cold_bfloat16"][2], 2),
                "bfloat16_same_chapters": [c.to_dict() for c in timings["cold_bfloat16"][0].chapters]
                == [c.to_dict() for c in timings["cold_float32"][0].chapters],
                "wall_s_cached": round(wall, 2),
                "cpu_s_cached": round(cpu, 2),
                "titles": [c.title for c in full.chapters],
            }
        )
        if duration >= 3600:
            rows[-1].update(_command(path))
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
        "# chapters on generated 30-minute lectures and a 1-hour one",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, load average "
        f"{result['machine']['load_avg_1m']} (shared). Boundary F1 within +-10 s of the true topic changes.",
        "Timing: `find_chapters` with the transcript cached and the embedder loaded, wall / CPU s (user+sys): "
        "*cold* = the sentence embeddings not cached yet (the first run after `transcribe`; float32, the default, "
        "and bfloat16 autocast), *cached* = a second run (the embeddings read from the embedding cache).",
        "",
        "| seed | length | voice | topics | F1 full | F1 text only | F1 every 5 min (baseline) | cold float32 | "
        "cold bfloat16 | bf16 same chapters | cached |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['duration_s'] / 60:.0f} min | {r['voice']} | {len(r['topics'])} | {r['f1_full']} | "
            f"{r['f1_text_only']} | {r['f1_every_5min']} | {r['wall_s_cold_float32']} / {r['cpu_s_cold_float32']} | "
            f"{r['wall_s_cold_bfloat16']} / {r['cpu_s_cold_bfloat16']} | {r['bfloat16_same_chapters']} | "
            f"{r['wall_s_cached']} / {r['cpu_s_cached']} |"
        )
    lines.append(
        f"| mean | | | | {mean['f1_full']} | {mean['f1_text_only']} | {mean['f1_every_5min']} | | | | |"
    )
    hour = rows[-1]
    lines += [
        "",
        f"The whole command on the {hour['duration_s'] / 60:.0f}-minute talk (`videopipe chapters VIDEO --titles "
        "extract` in a new process: Python start, imports, transcript and embeddings cached), three runs: wall s "
        f"{hour['command_wall_s']}, CPU s {hour['command_cpu_s']}.",
    ]
    (OUT / "chapters.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
