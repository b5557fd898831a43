"""Benchmark: videos/s of `videopipe batch`'s local executor vs a naive sequential loop.

The runner is a stand-in for the pipeline (``Pipeline.ask`` is not on this branch yet): its
prepare stage really decodes every frame of the video (PyAV; ``videopipe.open_video`` once
the decode branch is merged) and keeps 16 uniformly spaced frames resized to 224 px, and its
model stage sleeps ``--model-s`` seconds per question to stand in for LLM time. Compared in
the same run, on the same generated videos:

* ``naive``: a plain loop in this process (prepare, then answer each question);
* ``local-1``/``local-2``: the local executor with 1 / 2 full workers (prepare + answer each);
* ``staged-1+1``: 1 prepare worker feeding 1 model worker (the one-GPU layout: decoding the
  next video overlaps with model time on the current one).

Executor timings include starting the worker pool (fork server + imports). Results:
``benchmarks/results/batch.json`` and ``.md``.

    python benchmarks/batch.py            # full run
    python benchmarks/batch.py --quick    # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's videopipe, also in the worker processes


# ---- the stand-in runner (imported by the workers as ``batch:...``) ------------------------------
def _decode_sample(video: str, num_frames: int = 16, size_px: int = 224) -> tuple[np.ndarray, str]:
    try:
        from videopipe.decode import open_video  # type: ignore[attr-defined]
    except ImportError:
        open_video = None
    if open_video is not None:
        with open_video(video) as reader:
            n = reader.info.num_frames
            for _ in reader.iter_frames():  # decode everything, like a scan
                pass
            idx = np.linspace(0, n - 1, num_frames).round().astype(int)
            sel = reader.frames_at(idx.tolist(), size=size_px)
            return sel.data.numpy(), "open_video"
    import av

    with av.open(video) as c:
        frames = [f for f in c.decode(c.streams.video[0])]  # decode every frame
    idx = np.linspace(0, len(frames) - 1, num_frames).round().astype(int)
    out = np.stack([frames[i].to_ndarray(format="rgb24", width=size_px, height=size_px) for i in idx])
    return out, "pyav"


def make_preparer(num_frames: int = 16) -> Any:
    def prepare(video: str) -> dict[str, Any]:
        frames, decoder = _decode_sample(video, num_frames)
        return {"video": video, "frames": frames, "decoder": decoder}

    return prepare


class SleepModel:
    def __init__(self, model_s: float) -> None:
        self.model_s = model_s

    def __call__(self, prepared: Any, question: str) -> Any:
        from videopipe.types import Answer, Stats

        if not isinstance(prepared, dict):  # trivial prepare stage: decode here
            prepared = make_preparer()(prepared)
        time.sleep(self.model_s)
        mean = float(prepared["frames"].mean())
        return Answer(text=f"mean={mean:.1f}", stats=Stats(frames_decoded=len(prepared["frames"])))


def make_runner(model_s: float = 0.5) -> SleepModel:
    return SleepModel(model_s)


# ---- the benchmark ------------------------------------------------------------------------------
def _videos(n: int, seconds: float, work: Path) -> list[str]:
    from videopipe.testing.videos import make_video, scenes_video

    fps = 25
    half = int(seconds * fps / 2)
    src = make_video(scenes_video((half, half), seed=3, width=320, height=240, fps=fps, gop=50))
    out = []
    for i in range(n):
        p = work / "videos" / f"v{i:03d}.mp4"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, p)
        out.append(str(p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 short videos (smoke test)")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each video")
    ap.add_argument("--model-s", type=float, default=0.5, help="simulated model seconds per question")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (best is reported)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    if args.quick:
        args.videos, args.seconds, args.rounds = 3, 4.0, 1

    from videopipe.batch.inputs import load_jobs
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.local import LocalExecutor
    from videopipe.batch.results import read_records
    from videopipe.batch.run import run_batch

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        videos = _videos(args.videos, args.seconds, work)
        (work / "list.txt").write_text("\n".join(videos) + "\n")
        jobs = load_jobs(work / "list.txt", questions=["What happens?"])

        # measure one prepare (warm: after the imports) to report the decode/model balance
        _decode_sample(videos[0])
        t0 = time.perf_counter()
        _, decoder = _decode_sample(videos[0])
        prepare_s = time.perf_counter() - t0

        preload = ("batch", "videopipe.decode.reader", "videopipe.decode.pyav_backend")
        trivial = JobSpec(factory="batch:make_runner", kwargs={"model_s": args.model_s}, preload=preload)
        staged = JobSpec(
            factory="batch:make_runner",
            kwargs={"model_s": args.model_s},
            prepare_factory="batch:make_preparer",
            preload=preload,
        )
        layouts = {
            "local-1": (trivial, lambda: LocalExecutor(workers=1)),
            "local-2": (trivial, lambda: LocalExecutor(workers=2)),
            "staged-1+1": (staged, lambda: LocalExecutor(workers=1, model_workers=1)),
        }

        # warm-up: the first pool of a process starts the fork server (imports torch once)
        t0 = time.perf_counter()
        run_batch(jobs[:1], trivial, out=work / "warmup.jsonl", executor=LocalExecutor(), progress=False)
        warmup_s = time.perf_counter() - t0

        def naive() -> float:
            t0 = time.perf_counter()
            prep, model = make_preparer(), make_runner(args.model_s)
            for j in jobs:
                model(prep(j.video), j.question)
            return time.perf_counter() - t0

        times: dict[str, list[float]] = {k: [] for k in ["naive", *layouts]}
        for rnd in range(args.rounds):  # interleaved rounds: load from other jobs hits all alike
            times["naive"].append(naive())
            for name, (spec, make_ex) in layouts.items():
                out = work / f"{name}-{rnd}.jsonl"
                s = run_batch(jobs, spec, out=out, executor=make_ex(), progress=False)
                ok = sum(r["status"] == "ok" for r in read_records(out))
                assert ok == len(jobs), f"{name}: {ok}/{len(jobs)} ok"
                times[name].append(s.seconds)
        results: dict[str, dict[str, Any]] = {}
        for name, ts in times.items():
            best = min(ts)
            results[name] = {"seconds_best": best, "seconds_all": ts, "videos_per_s": len(videos) / best}
        for r in results.values():
            r["speedup_vs_naive"] = r["videos_per_s"] / results["naive"]["videos_per_s"]
        # what perfect overlap would give; the prepare time per video is taken from the naive
        # loop (best round minus the model time), steadier than one timed call on busy cores
        m = args.model_s
        p = max(1e-3, results["naive"]["seconds_best"] / len(videos) - m)
        ideal = {"naive": 1.0, "local-1": 1.0, "local-2": 2.0, "staged-1+1": (p + m) / max(p, m)}
        for name, r in results.items():
            r["ideal_speedup"] = ideal[name]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    meta = {
        "videos": args.videos,
        "video": f"{args.seconds:g} s, 320x240, 25 fps, H.264",
        "prepare": f"decode every frame ({decoder}) + 16 frames at 224 px; {prepare_s:.2f} s for one video (one call)",
        "prepare_s_per_video_from_naive": round(p, 3),
        "model_s_per_question": args.model_s,
        "questions_per_video": 1,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_end": os.getloadavg()[0],
        "rounds": args.rounds,
        "first_pool_start_s": round(warmup_s, 2),
        "note": (
            "the 2 cores were shared with other jobs during the run (best of the interleaved rounds is "
            "reported); executor times include starting the pool's workers (forks) but not the fork "
            "server's one-time start (first_pool_start_s, paid once per batch command)"
        ),
        "quick": args.quick,
    }
    report = {"meta": meta, "results": results}
    print(json.dumps(report, indent=2))
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "batch.json").write_text(json.dumps(report, indent=2) + "\n")
        lines = [
            "# batch: local executor vs naive loop",
            "",
            *(f"- {k}: {v}" for k, v in meta.items()),
            "",
            "| layout | best seconds | all rounds (s) | videos/s | vs naive | ideal vs naive |",
            "|---|---:|---|---:|---:|---:|",
            *(
                f"| {k} | {v['seconds_best']:.1f} | {', '.join(f'{t:.1f}' for t in v['seconds_all'])} "
                f"| {v['videos_per_s']:.3f} | {v['speedup_vs_naive']:.2f}x | {v['ideal_speedup']:.2f}x |"
                for k, v in results.items()
            ),
            "",
            "ideal: local-2 = 2 workers on 2 free cores; staged-1+1 = (prepare + model) / max(prepare, model) "
            "per video. Gaps to ideal: worker start-up (forks, first decoder use) and the other jobs on the cores.",
            "",
        ]
        (args.out / "batch.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
