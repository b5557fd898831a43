"""Benchmark: `videopipe batch` over the real Pipeline with a tiny model vs a naive loop.

Same videos as ``benchmarks/batch.py`` (generated, 320x240), but every record is a real
``Pipeline.ask``: decode + uniform sampling (16 frames at 224 px) + a tiny random Qwen2.5-VL's
vision tower + temporal_merge + greedy generation of 8 tokens. Compared in the same run:

* ``naive``: one Pipeline in this process, ``ask`` per video (model loaded once, not timed);
* ``local-1`` / ``local-2``: the local executor with 1 / 2 worker processes (each loads the
  model once; pool start-up and model loading are included in their time).

Results: ``benchmarks/results/batch_pipeline.json`` and ``.md``.

    python benchmarks/batch_pipeline.py [--videos 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from batch import _videos  # same generated videos as the stand-in benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    from videopipe.batch.inputs import load_jobs
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.local import LocalExecutor
    from videopipe.batch.results import read_records
    from videopipe.batch.run import run_batch
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.tiny_models import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-batch-pipe-"))
    try:
        videos = _videos(args.videos, args.seconds, work)
        model = build_tiny_model("qwen2_5_vl", work / "tiny", hidden_size=128, num_layers=2)
        cfg = PipelineConfig(
            model=str(model), device="cpu", num_frames=16, size_px=224, max_new_tokens=8, cache_tokens=False
        )
        (work / "list.txt").write_text("\n".join(videos) + "\n")
        jobs = load_jobs(work / "list.txt", questions=["What happens?"])
        spec = JobSpec.for_pipeline(cfg)
        pipe = Pipeline(config=cfg)
        pipe.ask(videos[0], "warm up")

        def naive() -> float:
            t0 = time.perf_counter()
            for j in jobs:
                pipe.ask(j.video, j.question)
            return time.perf_counter() - t0

        layouts = {"local-1": 1, "local-2": 2}
        times: dict[str, list[float]] = {k: [] for k in ["naive", *layouts]}
        for rnd in range(args.rounds):
            times["naive"].append(naive())
            for name, n in layouts.items():
                out = work / f"{name}-{rnd}.jsonl"
                s = run_batch(jobs, spec, out=out, executor=LocalExecutor(workers=n), progress=False)
                ok = sum(r["status"] == "ok" for r in read_records(out))
                assert ok == len(jobs), f"{name}: {ok}/{len(jobs)} ok"
                times[name].append(s.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = {}
    for name, ts in times.items():
        best = min(ts)
        results[name] = {
            "seconds_best": round(best, 3),
            "seconds_all": [round(t, 3) for t in ts],
            "videos_per_s": round(len(videos) / best, 3),
        }
    for r in results.values():
        r["speedup_vs_naive"] = round(r["videos_per_s"] / results["naive"]["videos_per_s"], 3)
    meta = {
        "videos": args.videos,
        "video": f"{args.seconds:g} s, 320x240, 25 fps, H.264",
        "pipeline": "uniform 16 frames @224 px, tiny random Qwen2.5-VL (LLM hidden 128, 2 layers), temporal_merge, 8 new tokens",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_end": round(os.getloadavg()[0], 1),
        "rounds": args.rounds,
        "note": "executor times include starting the workers and loading the model in each; the naive loop's model is loaded before timing",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch_pipeline.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    lines = [
        "# Batch over the real Pipeline (tiny model): videos/s",
        "",
        f"{meta['videos']} videos ({meta['video']}); {meta['pipeline']}. Machine: {meta['machine']}, "
        f"load average {meta['load_avg_at_end']} at the end (2 cores shared with other jobs). Best of {args.rounds} "
        "interleaved rounds.",
        "",
        "| layout | best s | videos/s | vs naive loop |",
        "|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['seconds_best']:.2f} | {r['videos_per_s']:.3f} | {r['speedup_vs_naive']:.2f}x |"
        )
    lines += ["", meta["note"] + "."]
    (args.out / "batch_pipeline.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
