"""A second question about the same video in a new ``videopipe ask`` process, with the prompt's KV
cache on disk (``videopipe.prefix_store``, the default) against without it
(``disk_kv_cache_mb = 0``, the baseline) and against ``--quantize none`` (the default before the
language model got int8 weights on a bf16 CPU), measured in one run on the same cached visual
tokens.

The video and checkpoint are ``benchmarks/real_size.py``'s (the 1-hour 720p video, SmolVLM2-500M
by default: the published architecture with random weights). One first question fills the token
cache and the KV file; then the second question runs ``--repeats`` times each way, taking turns.
Every row is one whole process (`python -m videopipe ask ... --json`, every other option at its
default). Answers are ``max_new_tokens`` long (random weights never end early).

    python benchmarks/second_question.py [--model smolvlm2-500m] [--frames 16] [--repeats 2]

Writes benchmarks/results/second_question.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_size import QUESTION, SECOND, ask, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ("wall_s", "cpu_s", "peak_rss_mb", "first_token_s", "prompt_tokens", "cached_tokens", "seconds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smolvlm2-500m")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from videopipe.config import default_cache_dir
    from videopipe.testing.real_size import build_real_model
    from videopipe.testing.videos import make_long_video

    video = make_long_video(3600.0, width=1280, height=720, repeat_of_s=60.0)
    model = build_real_model(args.model)
    work = default_cache_dir() / "second-question-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    off = work / "kv-off.toml"
    off.write_text("disk_kv_cache_mb = 0\n")
    cache = work / "cache"
    t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    first = ask(model, video, QUESTION, args.frames, cache)
    print(f"first question: {first['wall_s']} s", flush=True)
    ways = (
        ("no KV cache (baseline)", ("--config", str(off))),
        ("--quantize none (the default before int8-weights)", ("--quantize", "none")),
        ("KV cache on disk, int8-weights (default)", ()),
    )
    runs: dict[str, list[dict]] = {name: [] for name, _ in ways}
    for _ in range(args.repeats):
        for name, flags in ways:
            r = ask(model, video, SECOND, args.frames, cache, flags=flags)
            runs[name].append({k: r.get(k) for k in KEYS})
            print(f"{name}: {r['wall_s']} s, cached tokens {r.get('cached_tokens')}", flush=True)
    kv_files = sorted(cache.glob("prefix-kv/*/*.safetensors"))
    result = {
        "machine": machine(),
        "run_at": t0,
        "model": args.model,
        "frames": args.frames,
        "first": {k: first.get(k) for k in KEYS},
        "second_question": runs,
        "kv_file_mb": round(sum(p.stat().st_size for p in kv_files) / 2**20, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "second_question.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "second_question.md").write_text(markdown(result))


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# The second question in a new process: the defaults against no KV cache on disk and against "
        "`--quantize none`",
        "",
        f"{m['cpu']}, {m['cores']} cores, native bf16: {m['bf16_native']}, torch {m['torch']}; {r['run_at']}. "
        f"{r['model']} (published architecture, random weights), `--num-frames {r['frames']}`, the 1-hour 720p "
        "video; every row one whole `videopipe ask` process on the token cache the first question filled "
        f"(first question: {r['first']['wall_s']} s wall). KV file on disk: {r['kv_file_mb']} MB. "
        "Medians of the runs (they took turns).",
        "",
        "| second question | runs | wall s | CPU-s | time to first token s | generate s | prompt tokens | "
        "read from the KV file | peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in r["second_question"].items():

        def med(key: str, rs: list[dict] = runs) -> float:
            return round(statistics.median(x[key] or 0 for x in rs), 2)

        gen = round(statistics.median(x["seconds"].get("generate", 0.0) for x in runs), 2)
        lines.append(
            f"| {name} | {len(runs)} | {med('wall_s')} | {med('cpu_s')} | {med('first_token_s')} | {gen} | "
            f"{runs[0]['prompt_tokens']} | {runs[0]['cached_tokens']} | {round(med('peak_rss_mb') / 1024, 2)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
