"""What ``videopipe summarize`` costs per hour of video at real model size, on this machine.

Checkpoint: the CPU default model (SmolVLM2-500M) as ``videopipe.testing.real_size`` builds it
(the published architecture, random bf16 weights: the compute is the real one), loaded the way
the CLI loads it (``Pipeline(...).model``: ``--dtype auto``, bfloat16 on a CPU with native bf16).
Video: a generated 1-hour 1280x720 25 fps H.264 file (``make_long_video``, repeated by stream copy).
Lines: a synthetic transcript at 150 words a minute (the speech of a talk), so every chunk's
prompt carries its lines as a real talk's would; transcribing is a separate, cached cost
(``benchmarks/speech.py``).

Measured, with the job's own code (``summarize.describer.SpanDescriber`` for a chunk,
``summarize.reduce.reduce_descriptions`` for the reduce, ``chapters.job.scene_cut_times`` for
``--align cuts``):

1. ``chunk``: ``--chunks`` chunks of ``--chunk-s`` seconds spread over the hour, each described
   (decode + encode + generate, default options: 4 frames at 224 px, 96 new tokens), wall and
   CPU seconds each, and the encode / generate split;
2. ``reduce``: the plan of the reduce for an hour's chunks (how many calls, how many prompt
   tokens each, with the measured descriptions' lengths and the model's own token count) and
   one real reduce call of the largest prompt;
3. ``cuts``: the scene-cut scan of the whole hour (``--align cuts``, the default; none with
   ``--align none``).

Per hour: ``cuts + chunks_per_hour x chunk + reduce_calls x reduce_call`` (both wall and CPU
seconds). The machine is shared: CPU seconds (user + sys of this process) are the
load-independent number; the load average is recorded beside every wall.

    flock /work/bench.lock python3 benchmarks/summarize_cost.py --model DIR --video FILE
    nice -n 19 python3 benchmarks/summarize_cost.py --quick     # a tiny model and video: smoke only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from benchmarks._machine import cpu_name  # noqa: E402

_WORDS = (
    "the speaker explains how the system works and why each part matters for the result we "
    "want to see next time when data arrives from many sources across the network over time"
).split()


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def load() -> float:
    return round(os.getloadavg()[0], 2)


class Timed:
    """``model`` with the seconds of its ``encode`` and ``generate`` calls counted."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.seconds = {"encode": 0.0, "generate": 0.0}
        self.prompt_tokens: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def _timed(self, what: str, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            self.seconds[what] += time.perf_counter() - t

    def encode(self, frames: Any) -> Any:
        return self._timed("encode", self._model.encode, frames)

    def generate(self, tokens: Any, question: str, **kw: Any) -> str:
        out = self._timed("generate", self._model.generate, tokens, question, **kw)
        g = self._model.last_generation
        self.prompt_tokens.append(g.prompt_tokens if g is not None else -1)
        return out


def synthetic_timeline(video: Path, duration_s: float, words_per_min: float = 150.0) -> Any:
    """Lines of 12 words at ``words_per_min`` over the whole video (a talk's transcript)."""
    from videopipe.text.timeline import TextLine, TextSource, Timeline

    rng = random.Random(0)
    per_line_s = 12 * 60.0 / words_per_min
    lines, t = [], 0.0
    while t + per_line_s <= duration_s:
        text = " ".join(rng.choice(_WORDS) for _ in range(12)).capitalize() + "."
        lines.append(TextLine(t, t + per_line_s - 0.2, text, TextSource.speech))
        t += per_line_s
    return Timeline(str(video), tuple(lines))


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from videopipe.config import PipelineConfig
    from videopipe.decode import open_video
    from videopipe.decode.probe import probe
    from videopipe.pipeline import Pipeline
    from videopipe.summarize.chunks import plan_chunks
    from videopipe.summarize.describe import chunk_frame_size, span_times
    from videopipe.summarize.describer import SpanDescriber
    from videopipe.summarize.job import TEMPLATE_TOKENS
    from videopipe.summarize.reduce import REDUCE_PROMPT, reduce_descriptions
    from videopipe.summarize.types import Described

    video = Path(args.video)
    duration = float(probe(video).duration_s)
    timeline = synthetic_timeline(video, duration)
    t0, c0, l0 = time.perf_counter(), cpu_s(), load()
    model = Pipeline(config=PipelineConfig().with_overrides(model=str(args.model))).model
    loaded = {
        "wall_s": round(time.perf_counter() - t0, 2),
        "cpu_s": round(cpu_s() - c0, 2),
        "load_avg": [l0, load()],
    }
    _log(f"model loaded: {loaded}")
    timed = Timed(model)
    describer = SpanDescriber(timed, store=None)  # the job's defaults: 4 frames, 224 px, 96 new tokens
    hour_chunks = plan_chunks(duration, [], args.chunk_s)
    picks = [
        hour_chunks[int(i * (len(hour_chunks) - 1) / max(1, args.chunks - 1))] for i in range(args.chunks)
    ]
    chunks: list[dict[str, Any]] = []
    texts: list[str] = []
    with open_video(video) as reader:
        for a, b in picks:
            lines = timeline.between(a, b)
            before = dict(timed.seconds)
            t, c, la = time.perf_counter(), cpu_s(), load()
            text = describer.describe(video, reader, a, b, lines)
            wall = time.perf_counter() - t
            row = {
                "span_s": [round(a, 1), round(b, 1)],
                "lines": len(lines),
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu_s() - c, 2),
                "encode_s": round(timed.seconds["encode"] - before["encode"], 2),
                "generate_s": round(timed.seconds["generate"] - before["generate"], 2),
                "prompt_tokens": timed.prompt_tokens[-1],
                "new_tokens": model.last_generation.completion_tokens if model.last_generation else None,
                "load_avg": [la, load()],
            }
            row["decode_s"] = round(wall - row["encode_s"] - row["generate_s"], 2)
            chunks.append(row)
            texts.append(text)
            _log(f"chunk {a:.0f}-{b:.0f} s: {row}")

        # the reduce of an hour: planned with the model's own token count and the measured
        # descriptions' lengths (generate stubbed, each call's prompt recorded), then the largest
        # call run for real
        planned: list[int] = []
        small_tokens = len(
            model.encode(
                reader.frames_at_times(
                    span_times(0.0, args.chunk_s, max(1, int(model.min_frames))),
                    size=chunk_frame_size(reader, model),
                )
            )
        )

        def plan_generate(prompt: str, a: float, b: float) -> str:
            planned.append(model.count_text_tokens(prompt))
            return texts[len(planned) % len(texts)]

        an_hour = plan_chunks(3600.0, [], args.chunk_s)
        items = [Described(a, b, texts[k % len(texts)]) for k, (a, b) in enumerate(an_hour)]
        _, _, levels = reduce_descriptions(
            items,
            plan_generate,
            model.count_text_tokens,
            context_tokens=args.context_tokens,
            max_new_tokens=96,
            reserved_tokens=small_tokens + TEMPLATE_TOKENS,
        )
        # one real call with the first group's prompt (the largest kind: a group filled to the budget)
        budget = args.context_tokens - 96 - small_tokens - TEMPLATE_TOKENS
        group: list[Described] = []
        for d in items:
            probe_prompt = REDUCE_PROMPT + "\n".join(f"{x.label} {x.text}" for x in [*group, d])
            if group and model.count_text_tokens(probe_prompt) > budget:
                break
            group.append(d)
        prompt = REDUCE_PROMPT + "\n".join(f"{x.label} {x.text}" for x in group)
        one = reader.frames_at_times(
            span_times(group[0].start_s, group[-1].end_s, max(1, int(model.min_frames))),
            size=chunk_frame_size(reader, model),
        )
        before = dict(timed.seconds)
        t, c, la = time.perf_counter(), cpu_s(), load()
        timed.generate(timed.encode(one), prompt, max_new_tokens=96)
        reduce_call = {
            "items": len(group),
            "prompt_text_tokens": model.count_text_tokens(prompt),
            "prompt_tokens": timed.prompt_tokens[-1],
            "new_tokens": model.last_generation.completion_tokens if model.last_generation else None,
            "wall_s": round(time.perf_counter() - t, 2),
            "cpu_s": round(cpu_s() - c, 2),
            "generate_s": round(timed.seconds["generate"] - before["generate"], 2),
            "load_avg": [la, load()],
        }
        _log(f"reduce call: {reduce_call}")
    cuts: dict[str, Any] | None = None
    if not args.no_cuts:
        from videopipe.chapters.job import scene_cut_times

        t, c, la = time.perf_counter(), cpu_s(), load()
        found = scene_cut_times(video)
        cuts = {
            "cuts": len(found),
            "wall_s": round(time.perf_counter() - t, 2),
            "cpu_s": round(cpu_s() - c, 2),
            "load_avg": [la, load()],
        }
        _log(f"scene-cut scan: {cuts}")

    per_h = 3600.0 / duration
    n_chunks = len(hour_chunks) * per_h
    n_reduce = len(planned)  # an hour's reduce: the levels' calls and the final summary
    out: dict[str, Any] = {
        "formula": "per hour = cuts + chunks_per_hour x chunk + reduce_calls x reduce_call"
    }
    for unit in ("wall_s", "cpu_s"):
        chunk = statistics.mean(r[unit] for r in chunks)
        total = (cuts[unit] * per_h if cuts else 0.0) + n_chunks * chunk + n_reduce * reduce_call[unit]
        out[unit] = {
            "chunk_mean": round(chunk, 2),
            "chunks": round(n_chunks * chunk, 1),
            "reduce": round(n_reduce * reduce_call[unit], 1),
            "cuts": round(cuts[unit] * per_h, 1) if cuts else 0.0,
            "per_hour": round(total, 1),
        }
    return {
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "model": {"path": str(args.model), "name": Path(args.model).name, "model_id": str(model.model_id)},
        "video": {"path": str(video), "duration_s": round(duration, 1)},
        "options": {
            "chunk_s": args.chunk_s,
            "frames": 4,
            "size_px": 224,
            "max_new_tokens": 96,
            "context_tokens": args.context_tokens,
            "align": "none (chunks) + cuts scan" if cuts else "none",
            "lines": "synthetic, 150 words/min",
        },
        "load": loaded,
        "chunks": chunks,
        "reduce": {
            "chunks_per_hour": round(n_chunks),
            "calls_per_hour": round(n_reduce),
            "levels": levels,
            "planned_prompt_text_tokens": planned,
            "reserved_tokens": small_tokens + TEMPLATE_TOKENS,
            "measured_call": reduce_call,
        },
        "cuts": cuts,
        "per_hour": out,
    }


def markdown(r: dict[str, Any]) -> str:
    ph, red = r["per_hour"], r["reduce"]
    rows = "\n".join(
        f"| {c['span_s'][0]:.0f}-{c['span_s'][1]:.0f} | {c['lines']} | {c['prompt_tokens']} | {c['new_tokens']} "
        f"| {c['wall_s']:.1f} | {c['cpu_s']:.1f} | {c['decode_s']:.1f} | {c['encode_s']:.1f} | {c['generate_s']:.1f} "
        f"| {c['load_avg'][0]:.1f}-{c['load_avg'][1]:.1f} |"
        for c in r["chunks"]
    )
    mc = red["measured_call"]
    cuts = r["cuts"]
    cut_line = (
        f"- **cuts** (`--align cuts`, the default): the scene-cut scan of the hour took {cuts['wall_s']:.0f} s wall, "
        f"{cuts['cpu_s']:.0f} CPU-s (load {cuts['load_avg'][0]:.1f}-{cuts['load_avg'][1]:.1f}), {cuts['cuts']} cuts."
        if cuts
        else "- **cuts**: not measured (`--no-cuts`)."
    )
    return f"""# What `summarize` costs per hour of video at real model size (`benchmarks/summarize_cost.py`)

Run {r["run_at"]} at commit {r["commit"]}, {r["machine"]["cpu"]}, {r["machine"]["cores"]} cores.
Model: `{r["model"]["name"]}` (random-weight checkpoint of the published architecture,
`videopipe.testing.real_size`; loaded as the CLI loads it, {r["load"]["wall_s"]:.0f} s wall / {r["load"]["cpu_s"]:.0f} CPU-s, once per run).
Video: `{Path(r["video"]["path"]).name}` ({r["video"]["duration_s"] / 60:.0f} min). Options: the job's defaults
(chunks of {r["options"]["chunk_s"]:.0f} s, 4 frames at 224 px, 96 new tokens, context {r["options"]["context_tokens"]} tokens);
lines: {r["options"]["lines"]} (a talk's transcript; transcribing it is a separate, cached cost).
**The machine is shared**: CPU seconds (user + sys of the process) are the load-independent number;
walls are under the load average shown.

## Per chunk (describe: decode + encode + generate)

| span s | lines | prompt tokens | new tokens | wall s | CPU-s | decode s | encode s | generate s | load avg |
|---|---|---|---|---|---|---|---|---|---|
{rows}

## Reduce

An hour is {red["chunks_per_hour"]} chunks; their descriptions (the measured ones, repeated), in prompts of
{r["options"]["context_tokens"]} tokens ({red["reserved_tokens"]} kept for the frame and the chat template, 96 for the
answer), reduce in {red["levels"]} level(s) before the final summary: {red["calls_per_hour"]} calls per hour (text tokens per prompt:
{", ".join(str(t) for t in red["planned_prompt_text_tokens"])}). One call of the largest kind ({mc["items"]} descriptions,
{mc["prompt_tokens"]} prompt tokens as the model counted them, {mc["new_tokens"]} new): {mc["wall_s"]:.0f} s wall,
{mc["cpu_s"]:.0f} CPU-s (load {mc["load_avg"][0]:.1f}-{mc["load_avg"][1]:.1f}); every call is counted at that cost (an upper bound:
the last prompts are shorter).

{cut_line}

## Per hour of video

`{ph["formula"]}`

| | chunks | reduce | cuts | **per hour of video** |
|---|---|---|---|---|
| CPU seconds | {ph["cpu_s"]["chunks"]:.0f} ({red["chunks_per_hour"]} x {ph["cpu_s"]["chunk_mean"]:.1f}) | {ph["cpu_s"]["reduce"]:.0f} | {ph["cpu_s"]["cuts"]:.0f} | **{ph["cpu_s"]["per_hour"]:.0f} CPU-s = {ph["cpu_s"]["per_hour"] / 3600:.2f} CPU-hours** |
| wall seconds (under the load shown) | {ph["wall_s"]["chunks"]:.0f} ({red["chunks_per_hour"]} x {ph["wall_s"]["chunk_mean"]:.1f}) | {ph["wall_s"]["reduce"]:.0f} | {ph["wall_s"]["cuts"]:.0f} | **{ph["wall_s"]["per_hour"]:.0f} s = {ph["wall_s"]["per_hour"] / 3600:.2f} h** |

Random weights rarely stop early: every description ran its full 96 new tokens, where a trained model
answering "one or two sentences" stops at about 40; the generate share of a chunk is then roughly
40/96 of the measured one. Cached chunks (a rerun, or clips `index --captions` described) cost nothing.
"""


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="checkpoint directory (default: build smolvlm2-500m with real_size)")
    ap.add_argument("--video", help="video file (default: a generated 1-hour 720p file)")
    ap.add_argument("--chunks", type=int, default=3, help="chunks measured, spread over the video")
    ap.add_argument("--chunk-s", type=float, default=30.0)
    ap.add_argument("--context-tokens", type=int, default=4096)
    ap.add_argument("--no-cuts", action="store_true", help="skip the scene-cut scan")
    ap.add_argument("--quick", action="store_true", help="a tiny model and a 2-minute video (smoke test)")
    ap.add_argument("--out", default=str(RESULTS / "summarize_cost"), help="results path without suffix")
    args = ap.parse_args()
    if args.quick:
        import tempfile

        from videopipe.testing.tiny_models import build_tiny_model
        from videopipe.testing.videos import make_long_video

        args.model = args.model or str(build_tiny_model("smolvlm", Path(tempfile.mkdtemp()) / "tiny"))
        args.video = args.video or str(make_long_video(120, width=320, height=180, repeat_of_s=60))
        args.chunks, args.context_tokens = 2, min(args.context_tokens, 1024)
        args.out = (
            args.out
            if args.out != str(RESULTS / "summarize_cost")
            else str(Path(tempfile.mkdtemp()) / "quick")
        )
    if args.model is None:
        from videopipe.testing.real_size import build_real_model

        args.model = str(build_real_model("smolvlm2-500m"))
    if args.video is None:
        from videopipe.testing.videos import make_long_video

        args.video = str(make_long_video(3600, repeat_of_s=60))
    result = bench(args)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    _log(f"wrote {out.with_suffix('.json')} and .md")
    print(markdown(result))


if __name__ == "__main__":
    main()
