"""End-to-end cost of answering one question: full tokens vs the default sampler + compressor.

On a generated 30-minute 1280x720 video (GOP 250) with a tiny random Qwen2.5-VL on the CPU:

  (a) baseline: ``uniform`` 64 frames, every visual token goes to the LLM (compressor ``none``)
  (b) default:  the default sampler + compressor at the default visual-token budget
                (``PipelineConfig()``: uniform with keyframe snapping, progressive[per_frame_budget=0], 2048 tokens)

Each run is a fresh subprocess (honest peak RSS, no warm caches shared), token cache off.
Reports seconds per stage, peak RSS, prefill tokens (visual + text) and the speedup, plus the
analytic prefill FLOPs ratio of a 7B LLM (Qwen2.5-7B geometry) at the same token counts —
the tiny model's LLM is far cheaper than a real one, so the FLOPs ratio is what a user of a
real model would see in the generate stage.

    python benchmarks/e2e.py            # 30-minute video (generated once, cached)
    python benchmarks/e2e.py --quick    # 2-minute video, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Qwen2.5-7B language model geometry (config.json of Qwen/Qwen2.5-VL-7B-Instruct)
QWEN7B = {"layers": 28, "hidden": 3584, "intermediate": 18944, "heads": 28, "kv_heads": 4, "head_dim": 128}


def prefill_flops(n: int, g: dict[str, int] = QWEN7B) -> float:
    """Forward FLOPs of a decoder-only LLM over an n-token prompt (2 FLOPs per multiply-add):
    projections and MLP scale with n, attention scores and weighted sums with n^2 (causal: half)."""
    d, L = g["hidden"], g["layers"]
    q_o = 2 * d * g["heads"] * g["head_dim"]
    kv = 2 * d * g["kv_heads"] * g["head_dim"]
    mlp = 3 * d * g["intermediate"]
    linear = 2 * n * (q_o + kv + mlp)
    attn = 2 * 2 * g["heads"] * g["head_dim"] * n * n / 2
    return float(L * (linear + attn))


def _real_qwen_frame_limits(model_dir: Path) -> None:
    """The tiny builder caps frames at 64 tokens to keep tests fast; give the benchmark model
    Qwen2.5-VL's real per-frame pixel limits (video processor: 128..768 tokens of 28x28 px) so
    token counts per frame are those of the real model."""
    for p in model_dir.glob("*processor*config*.json"):
        cfg = json.loads(p.read_text())
        for key in ("size",):
            if isinstance(cfg.get(key), dict) and "longest_edge" in cfg[key]:
                cfg[key] = {"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28}
        for sub in cfg.values():  # processor_config.json nests the image/video processors
            if isinstance(sub, dict) and isinstance(sub.get("size"), dict) and "longest_edge" in sub["size"]:
                sub["size"] = {"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28}
        p.write_text(json.dumps(cfg, indent=2))


def _child(args: argparse.Namespace) -> None:
    """Run one configuration and print its Answer stats as JSON (in a fresh process)."""
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    cfg = PipelineConfig(**json.loads(args.config))
    t0 = time.perf_counter()
    pipe = Pipeline(config=cfg)
    load_s = time.perf_counter() - t0
    question = "What happens in this video?"
    ans = pipe.ask(args.video, question, max_new_tokens=8)
    text_tokens = (
        len(pipe.model.processor.tokenizer(question)["input_ids"]) if hasattr(pipe.model, "processor") else 0
    )
    out = {"stats": ans.stats.to_dict(), "load_s": load_s, "question_tokens": text_tokens}
    print("RESULT " + json.dumps(out))


def _run(video: Path, config: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", "--video", str(video), "--config", json.dumps(config)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"benchmark child failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2-minute video instead of 30 minutes")
    ap.add_argument("--hidden-size", type=int, default=256, help="tiny LLM width")
    ap.add_argument("--layers", type=int, default=4, help="tiny LLM depth")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--video", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return

    from videopipe.config import PipelineConfig
    from videopipe.testing.tiny_models import build_tiny_model
    from videopipe.testing.videos import make_long_video

    duration = 120 if args.quick else 1800
    t0 = time.perf_counter()
    video = make_long_video(duration, width=1280, height=720, fps=25, gop=250)
    print(f"video {video} ready in {time.perf_counter() - t0:.0f}s")
    model_dir = Path(tempfile.mkdtemp()) / "tiny-qwen2.5-vl"
    build_tiny_model("qwen2_5_vl", model_dir, hidden_size=args.hidden_size, num_layers=args.layers)
    _real_qwen_frame_limits(model_dir)

    default = PipelineConfig()
    common = {"model": str(model_dir), "device": "cpu", "cache_tokens": False, "size_px": 448}
    configs = {
        "a_uniform64_full": {**common, "sampler": "uniform", "num_frames": 64, "compressor": "none"},
        "b_default": {
            **common,
            "sampler": default.sampler,
            "num_frames": default.num_frames,
            "compressor": default.compressor,
            "max_visual_tokens": default.max_visual_tokens,
        },
    }
    runs = {}
    for name, cfg in configs.items():
        print(f"running {name} ...", flush=True)
        runs[name] = _run(video, cfg)
        st = runs[name]["stats"]
        print(f"  {st['tokens_before']} -> {st['tokens_after']} visual tokens, stages {st['seconds']}")

    a, b = runs["a_uniform64_full"], runs["b_default"]
    q = a["question_tokens"] + 30  # question + chat template + timestamps, roughly the same in both
    na, nb = a["stats"]["tokens_after"] + q, b["stats"]["tokens_after"] + q
    total = {k: sum(v["stats"]["seconds"].values()) for k, v in runs.items()}
    result = {
        "benchmark": "e2e",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, CPU only",
        "video": {"duration_s": duration, "size": "1280x720", "fps": 25, "gop": 250},
        "model": f"tiny random Qwen2.5-VL (LLM hidden {args.hidden_size}, {args.layers} layers)",
        "configs": configs,
        "runs": runs,
        "prefill_tokens": {"a_uniform64_full": na, "b_default": nb},
        "speedup_total": round(total["a_uniform64_full"] / total["b_default"], 2),
        "speedup_generate": round(
            a["stats"]["seconds"]["generate"] / max(1e-9, b["stats"]["seconds"]["generate"]), 2
        ),
        "flops_7b_prefill": {"a": prefill_flops(na), "b": prefill_flops(nb)},
        "flops_7b_ratio": round(prefill_flops(na) / prefill_flops(nb), 2),
    }
    RESULTS.mkdir(exist_ok=True)
    tag = "e2e_quick" if args.quick else "e2e"
    (RESULTS / f"{tag}.json").write_text(json.dumps(result, indent=2) + "\n")
    stages = sorted({s for r in runs.values() for s in r["stats"]["seconds"]})
    lines = [
        f"# End-to-end: one question on a {duration // 60}-minute 720p video ({result['model']}, CPU)",
        "",
        f"Machine: {result['machine']}. Each row is a fresh process; token cache off.",
        "",
        "| run | visual tokens (before -> after) | prefill tokens | "
        + " | ".join(f"{s} s" for s in stages)
        + " | total s | peak RSS MB |",
        "|---|---|---|" + "---|" * len(stages) + "---|---|",
    ]
    for name, r in runs.items():
        st = r["stats"]
        secs = " | ".join(f"{st['seconds'].get(s, 0):.2f}" for s in stages)
        lines.append(
            f"| {name} | {st['tokens_before']} -> {st['tokens_after']} | {result['prefill_tokens'][name]} | {secs} | "
            f"{total[name]:.2f} | {st['peak_memory_mb']:.0f} |"
        )
    lines += [
        "",
        f"- Speedup of the default over full tokens, whole question: **{result['speedup_total']}x**; "
        f"generate stage: **{result['speedup_generate']}x**.",
        f"- Analytic prefill FLOPs of a 7B LLM (Qwen2.5-7B geometry) at these prompt lengths: "
        f"{result['flops_7b_prefill']['a'] / 1e12:.1f} vs {result['flops_7b_prefill']['b'] / 1e12:.1f} TFLOPs, "
        f"**{result['flops_7b_ratio']}x** fewer with the default.",
    ]
    (RESULTS / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
