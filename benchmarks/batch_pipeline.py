"""Benchmark: `videopipe batch` over the real Pipeline: executors vs a naive loop, and the
split layout (decode workers feeding model workers) vs today's full worker.

Part ``tiny`` — same videos as ``benchmarks/batch.py`` (generated, 320x240), every record a
real ``Pipeline.ask``: decode + uniform sampling (16 frames at 224 px) + a tiny random
Qwen2.5-VL's vision tower + temporal_merge + greedy generation of 8 tokens. Compared in the
same run:

* ``naive``: one Pipeline in this process, ``ask`` per video (model loaded once, not timed);
* ``local-1`` / ``local-2``: the local executor with 1 / 2 worker processes (each loads the
  model once; pool start-up and model loading are included in their time).

Part ``overlap`` — the one-GPU layout, on 60-s 720p H.264 videos (GOP 250; the CPU stage,
``Pipeline.select_and_decode`` of 16 frames at 224 px, costs about as much as the model):

* ``full``: today's layout before the split, one worker that decodes, then runs the model
  (``JobSpec.for_pipeline`` with its prepare stage removed);
* ``split-1+1``: one decode worker (``Pipeline.select_and_decode``) feeding one model worker
  (``Pipeline.prepare_from`` + ``answer``), so decoding the next video overlaps with model
  work on the current one.

Two models: ``sleep``, the scripted colour model with fixed sleeps standing in for GPU time
(``--encode-s`` per video, ``--generate-s`` per question; a GPU model leaves the CPU free),
and ``tiny-qwen``, the tiny random Qwen2.5-VL on the CPU (model and decoding then share the
cores).

Results: ``benchmarks/results/batch_pipeline.json`` and ``.md``.

    python benchmarks/batch_pipeline.py [--part all|tiny|overlap] [--videos 12] [--rounds 2]
    python benchmarks/batch_pipeline.py --quick      # smoke test (results not written)
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
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's videopipe, also in the worker processes

from batch import _videos  # noqa: E402 - same generated videos as the stand-in benchmark

from videopipe.testing.fake_model import FakeVideoLLM  # noqa: E402


# ---- the sleep model (imported by the model workers as ``batch_pipeline:sleep_runner``) ---------
class SleepyFake(FakeVideoLLM):
    """The scripted colour model plus fixed sleeps standing in for GPU time: the CPU is free
    while it "runs", as it is while a GPU runs a real model."""

    def __init__(self, *, encode_s: float, generate_s: float) -> None:
        super().__init__()
        self.encode_s, self.generate_s = encode_s, generate_s

    def encode(self, frames: Any) -> Any:
        time.sleep(self.encode_s)
        return super().encode(frames)

    def generate(self, tokens: Any, question: str, **kw: Any) -> str:
        time.sleep(self.generate_s)
        return super().generate(tokens, question, **kw)


def sleep_runner(*, config: dict[str, Any], encode_s: float, generate_s: float) -> Any:
    """The production runner (``videopipe.batch.jobs``) over a pipeline with the sleep model."""
    from videopipe.batch.jobs import PipelineRunner
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    pipe = Pipeline(SleepyFake(encode_s=encode_s, generate_s=generate_s), config=PipelineConfig(**config))
    return PipelineRunner(pipe, reuse_prepared=True)


# ---- the benchmark ------------------------------------------------------------------------------
def _best(times: dict[str, list[float]], n_videos: int, baseline: str) -> dict[str, dict[str, Any]]:
    results = {}
    for name, ts in times.items():
        best = min(ts)
        results[name] = {
            "seconds_best": round(best, 3),
            "seconds_all": [round(t, 3) for t in ts],
            "videos_per_s": round(n_videos / best, 3),
        }
    for r in results.values():
        r[f"speedup_vs_{baseline}"] = round(r["videos_per_s"] / results[baseline]["videos_per_s"], 3)
    return results


def _run(jobs: list[Any], spec: Any, out: Path, executor: Any) -> float:
    from videopipe.batch.results import read_records
    from videopipe.batch.run import run_batch

    s = run_batch(jobs, spec, out=out, executor=executor, progress=False)
    ok = sum(r["status"] == "ok" for r in read_records(out))
    assert ok == len(jobs), f"{out.name}: {ok}/{len(jobs)} ok"
    return s.seconds


def run_tiny(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from videopipe.batch.inputs import load_jobs
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.local import LocalExecutor
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.tiny_models import build_tiny_model

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
            times[name].append(_run(jobs, spec, work / f"{name}-{rnd}.jsonl", LocalExecutor(workers=n)))
    meta = {
        "videos": args.videos,
        "video": f"{args.seconds:g} s, 320x240, 25 fps, H.264",
        "pipeline": "uniform 16 frames @224 px, tiny random Qwen2.5-VL (LLM hidden 128, 2 layers), "
        "temporal_merge, 8 new tokens",
        "rounds": args.rounds,
        "note": "executor times include starting the workers and loading the model in each; the naive "
        "loop's model is loaded before timing",
    }
    results = _best(times, len(videos), "naive")
    meta["naive_s_per_video"] = round(results["naive"]["seconds_best"] / len(videos), 3)
    return {"meta": meta, "results": results}


def _long_videos(n: int, seconds: float, work: Path) -> list[str]:
    """``n`` paths of one cached 720p video (hard links where possible: distinct paths, one file)."""
    from videopipe.testing.videos import make_long_video

    src = make_long_video(seconds, width=1280, height=720, gop=250)
    out = []
    for i in range(n):
        p = work / "long" / f"v{i:03d}.mp4"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.unlink(missing_ok=True)
        try:
            os.link(src, p)
        except OSError:
            shutil.copy(src, p)
        out.append(str(p))
    return out


def run_overlap(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from videopipe.batch.inputs import load_jobs
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.local import LocalExecutor
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.tiny_models import build_tiny_model

    videos = _long_videos(args.videos, args.long_seconds, work)
    (work / "long.txt").write_text("\n".join(videos) + "\n")
    jobs = load_jobs(work / "long.txt", questions=["What happens?"])
    base = {"num_frames": 16, "size_px": 224, "max_new_tokens": 8, "cache_tokens": False}

    # the CPU stage's cost on its own (warm), to put the model time in proportion
    cpu = Pipeline(config=PipelineConfig(model="fake", **base), load_model=False, decode_device="cpu")
    cpu.select_and_decode(videos[0])
    t0 = time.perf_counter()
    for v in videos[:3]:
        cpu.select_and_decode(v)
    cpu_stage_s = (time.perf_counter() - t0) / min(3, len(videos))

    tiny = build_tiny_model("qwen2_5_vl", work / "tiny-overlap", hidden_size=128, num_layers=2)
    specs: dict[str, JobSpec] = {}
    fake_cfg = PipelineConfig(model="fake", **base).to_dict()
    sleep_spec = replace(
        JobSpec.for_pipeline(fake_cfg),
        factory="batch_pipeline:sleep_runner",
        kwargs={"config": fake_cfg, "encode_s": args.encode_s, "generate_s": args.generate_s},
    )
    specs["sleep"] = sleep_spec
    specs["tiny-qwen"] = JobSpec.for_pipeline(PipelineConfig(model=str(tiny), device="cpu", **base))

    sections = {}
    for model_name, spec in specs.items():
        assert spec.prepare_factory == "videopipe.batch.jobs:pipeline_preparer"
        full = replace(spec, prepare_factory=None, prepare_kwargs={})  # the layout before the split
        layouts = {
            "full": (full, LocalExecutor(workers=1, model_workers=1)),
            "split-1+1": (spec, LocalExecutor(workers=1, model_workers=1)),
        }
        times: dict[str, list[float]] = {k: [] for k in layouts}
        for rnd in range(args.rounds):
            for name, (sp, ex) in layouts.items():
                times[name].append(_run(jobs, sp, work / f"{model_name}-{name}-{rnd}.jsonl", ex))
        sections[model_name] = _best(times, len(videos), "full")
    model_s = args.encode_s + args.generate_s
    meta = {
        "videos": args.videos,
        "video": f"{args.long_seconds:g} s, 1280x720, 25 fps, H.264 GOP 250 (testsrc2)",
        "pipeline": "uniform 16 frames @224 px, temporal_merge, 8 new tokens, one question per video",
        "cpu_stage_s_per_video": round(cpu_stage_s, 3),
        "models": {
            "sleep": f"scripted colour model + sleeps standing in for GPU time: {args.encode_s:g} s encode + "
            f"{args.generate_s:g} s generate = {model_s:g} s per video",
            "tiny-qwen": "tiny random Qwen2.5-VL (LLM hidden 128, 2 layers) on the CPU",
        },
        "ideal_sleep_split_vs_full": round((cpu_stage_s + model_s) / max(cpu_stage_s, model_s), 3),
        "rounds": args.rounds,
        "note": "Both layouts have one model worker; times include starting the workers and loading the "
        "model; full = JobSpec.for_pipeline with its prepare stage removed (the layout before the split)",
    }
    return {"meta": meta, "results": sections}


def _machine() -> dict[str, Any]:
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "shared": "2 cores shared with other engineers' jobs during the runs",
    }


def _markdown(data: dict[str, Any]) -> str:
    lines = ["# Batch over the real Pipeline", ""]
    m = data.get("machine", {})
    lines += [f"Machine: {m.get('machine')} ({m.get('shared')}).", ""]
    if "tiny" in data:
        t = data["tiny"]["meta"]
        lines += [
            "## Executors vs a naive loop (tiny model): videos/s",
            "",
            f"{t['videos']} videos ({t['video']}); {t['pipeline']}. Best of {t['rounds']} interleaved rounds.",
            "",
            "| layout | best s | videos/s | vs naive loop |",
            "|---|---:|---:|---:|",
        ]
        for name, r in data["tiny"]["results"].items():
            lines.append(
                f"| {name} | {r['seconds_best']:.2f} | {r['videos_per_s']:.3f} | {r['speedup_vs_naive']:.2f}x |"
            )
        lines += [
            "",
            f"{t['note']}. The naive loop needs {t.get('naive_s_per_video', float('nan')):.2f} s per video: "
            "when that is small, the executors' start-up (fork server, imports and the model load in "
            "each worker, several seconds on this machine) is not amortised. Load average "
            f"{t.get('load_avg_at_end', '?')} at the end of this part.",
            "",
        ]
    if "overlap" in data:
        o = data["overlap"]["meta"]
        lines += [
            "## Split layout (1 decode worker -> 1 model worker) vs the full worker: videos/s",
            "",
            f"{o['videos']} videos ({o['video']}); {o['pipeline']}. CPU stage (select_and_decode): "
            f"{o['cpu_stage_s_per_video']:.2f} s per video. Best of {o['rounds']} interleaved rounds.",
            "",
        ]
        for k, v in o["models"].items():
            lines.append(f"- `{k}`: {v}")
        lines += ["", "| model | layout | best s | videos/s | vs full worker |", "|---|---|---:|---:|---:|"]
        for model_name, res in data["overlap"]["results"].items():
            for name, r in res.items():
                lines.append(
                    f"| {model_name} | {name} | {r['seconds_best']:.2f} | {r['videos_per_s']:.3f} | "
                    f"{r['speedup_vs_full']:.2f}x |"
                )
        lines += [
            "",
            f"Ideal for `sleep` (perfect overlap): (CPU stage + model) / max(CPU stage, model) = "
            f"{o['ideal_sleep_split_vs_full']:.2f}x. With `tiny-qwen` the model also runs on the CPU, so "
            "the two stages compete for the same 2 cores. " + o["note"] + f". Load average "
            f"{o.get('load_avg_at_end', '?')} at the end of this part.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("all", "tiny", "overlap"), default="all")
    ap.add_argument("--quick", action="store_true", help="a few short videos, 1 round; writes no results")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the part-tiny videos")
    ap.add_argument("--long-seconds", type=float, default=60.0, help="length of the part-overlap videos")
    ap.add_argument("--encode-s", type=float, default=1.0, help="sleep model: seconds per video (encode)")
    ap.add_argument("--generate-s", type=float, default=0.5, help="sleep model: seconds per question")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args()
    if args.render:
        data = json.loads((args.out / "batch_pipeline.json").read_text())
        (args.out / "batch_pipeline.md").write_text(_markdown(data))
        return
    if args.quick:
        args.videos, args.seconds, args.long_seconds, args.rounds = 3, 4.0, 10.0, 1
        args.encode_s, args.generate_s = 0.2, 0.1

    json_path = args.out / "batch_pipeline.json"
    data: dict[str, Any] = {}
    if json_path.is_file() and not args.quick:
        old = json.loads(json_path.read_text())
        data = {k: v for k, v in old.items() if k in ("tiny", "overlap")}  # keep the part not rerun
    work = Path(tempfile.mkdtemp(prefix="bench-batch-pipe-"))
    try:
        if args.part in ("all", "tiny"):
            data["tiny"] = run_tiny(args, work)
            data["tiny"]["meta"]["load_avg_at_end"] = round(os.getloadavg()[0], 1)
        if args.part in ("all", "overlap"):
            data["overlap"] = run_overlap(args, work)
            data["overlap"]["meta"]["load_avg_at_end"] = round(os.getloadavg()[0], 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data["machine"] = _machine()
    text = _markdown(data)
    print(text)
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "batch_pipeline.md").write_text(text)


if __name__ == "__main__":
    main()
