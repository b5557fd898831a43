"""Coverage vs budget for every visual-token compressor, against uniform frame dropping.

    python benchmarks/compressors.py            # full run (a few minutes on 2 cores)
    python benchmarks/compressors.py --quick    # smoke test

Tokens: real frames of ../shared/media and two generated videos (a static one: vtest.avi's
middle frame repeated with pixel noise; a scene-cut one from videopipe.testing.videos),
encoded with a fixed random projection of 28 px pixel patches (Qwen2.5-VL geometry: 14 px
patches merged 2x2); see videopipe/testing/patch_features.py for why. Fidelity is
``token_coverage`` (size-weighted mean best cosine of each original token to a kept token).
The baseline, in the same run, is uniform frame dropping (whole frames spread over time, as
many as fit the budget). Also measures CPU time per 10k tokens.

Writes benchmarks/results/compressors.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videopipe.compressors import build  # noqa: E402
from videopipe.compressors.metrics import drop_frames_uniform, token_coverage  # noqa: E402
from videopipe.registry import COMPRESSORS  # noqa: E402
from videopipe.testing.patch_features import patch_tokens, read_frames, static_tokens, video_tokens  # noqa: E402
from videopipe.types import VisualTokens  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "benchmarks" / "results"
BASELINE = "drop_frames"
CHAINS = ["temporal_merge+progressive"]
# label -> (registry name, options): configured variants measured next to the defaults
VARIANTS: dict[str, tuple[str, dict]] = {
    "progressive[per_frame_budget=0]": ("progressive", {"per_frame_budget": 0}),
    "divprune[sketch_dim=256]": ("divprune", {"sketch_dim": 256}),
}


def specs() -> list[str]:
    return [n for n in COMPRESSORS.names() if n != "none"] + CHAINS + list(VARIANTS)


def make(spec: str):
    if spec in VARIANTS:
        name, options = VARIANTS[spec]
        return COMPRESSORS.get(name)(**options)  # None values are meaningful here
    return build(spec)


def generated_scene_video(num_frames: int) -> VisualTokens:
    from videopipe.testing.videos import make_video, scenes_video

    path = make_video(scenes_video((40, 35, 50, 25), seed=3, width=448, height=224, number_frames=False))
    frames, idx, times = read_frames(path, num_frames=num_frames, size=(224, 448))
    return patch_tokens(frames, idx, times)


def datasets(num_frames: int, quick: bool) -> dict[str, tuple[str, VisualTokens]]:
    out: dict[str, tuple[str, VisualTokens]] = {}
    for name, what in [
        ("bikes.mp4", "real: cyclists, shot cuts"),
        ("bigbuckbunny.mp4", "real: animation, camera motion"),
        ("vtest.avi", "real: fixed camera, pedestrians"),
    ]:
        if (MEDIA / name).is_file():
            out[name] = (what, video_tokens(MEDIA / name, num_frames=num_frames))
    if (MEDIA / "vtest.avi").is_file():
        out["static (generated)"] = (
            "vtest.avi middle frame repeated, pixel noise std 2",
            static_tokens(MEDIA / "vtest.avi", num_frames=num_frames),
        )
    if not quick:
        out["scenes (generated)"] = ("4 drifting-texture scenes, 3 cuts", generated_scene_video(num_frames))
    return out


def coverage_curves(data: dict[str, tuple[str, VisualTokens]], fractions: list[float]) -> list[dict]:
    rows = []
    for video, (_, vt) in data.items():
        for frac in fractions:
            budget = max(1, int(frac * len(vt)))
            base = token_coverage(vt, drop_frames_uniform(vt, budget))
            rows.append({"video": video, "fraction": frac, "budget": budget, "method": BASELINE, "coverage": base,
                         "tokens_out": len(drop_frames_uniform(vt, budget)), "ratio_to_baseline": 1.0})  # fmt: skip
            for spec in specs():
                out = make(spec)(vt, budget)
                cov = token_coverage(vt, out)
                rows.append({"video": video, "fraction": frac, "budget": budget, "method": spec, "coverage": cov,
                             "tokens_out": len(out), "ratio_to_baseline": cov / base})  # fmt: skip
            print(f"  {video} {frac:.2f}: done", flush=True)
    return rows


def timings(vt: VisualTokens, repeats: int, fraction: float) -> list[dict]:
    budget = int(fraction * len(vt))
    rows = []
    for spec in [BASELINE, *specs()]:
        fn = (lambda t, b: drop_frames_uniform(t, b)) if spec == BASELINE else make(spec)
        fn(vt, budget)  # warm-up
        times: list[float] = []
        while len(times) < repeats and sum(times) < 20.0:  # slow methods: fewer repeats
            t0 = time.perf_counter()
            fn(vt, budget)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rows.append(
            {
                "method": spec,
                "seconds": med,
                "runs": len(times),
                "ms_per_10k_tokens": 1000 * med * 10_000 / len(vt),
            }
        )
        print(f"  timing {spec}: {rows[-1]['ms_per_10k_tokens']:.1f} ms / 10k tokens", flush=True)
    return rows


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Visual-token compressors: coverage vs budget",
        "",
        f"Machine: {m['cpu']} ({m['cpus']} cores), torch {m['torch']}, Python {m['python']}. {m['note']}",
        f"Command: `{result['command']}`. Tokens: {result['encoder']}",
        "",
        "Coverage = size-weighted mean, over the original tokens, of the best cosine similarity to a kept token.",
        f"Baseline (same run): `{BASELINE}` = uniform frame dropping (whole frames spread over time).",
        "",
        "## Videos",
        "",
        "| video | content | frames | tokens | tokens/frame |",
        "|---|---|---|---|---|",
    ]
    for v in result["videos"]:
        lines.append(
            f"| {v['video']} | {v['content']} | {v['frames']} | {v['tokens']} | {v['tokens_per_frame']} |"
        )
    methods = [BASELINE, *specs()]
    fracs = result["fractions"]
    lines += ["", "## Mean coverage over all videos (ratio to frame dropping in brackets)", ""]
    lines.append("| method | " + " | ".join(f"{f:.0%} budget" for f in fracs) + " |")
    lines.append("|---|" + "---|" * len(fracs))
    for meth in methods:
        cells = []
        for f in fracs:
            rs = [r for r in result["coverage"] if r["method"] == meth and r["fraction"] == f]
            cov = statistics.mean(r["coverage"] for r in rs)
            ratio = statistics.mean(r["ratio_to_baseline"] for r in rs)
            cells.append(f"{cov:.4f} ({ratio:.3f}x)")
        lines.append(f"| {meth} | " + " | ".join(cells) + " |")
    lines += ["", "## Coverage per video", ""]
    for v in result["videos"]:
        lines.append(f"### {v['video']}")
        lines.append("")
        lines.append("| method | " + " | ".join(f"{f:.0%}" for f in fracs) + " |")
        lines.append("|---|" + "---|" * len(fracs))
        for meth in methods:
            cells = [
                f"{r['coverage']:.4f}"
                for f in fracs
                for r in result["coverage"]
                if r["method"] == meth and r["fraction"] == f and r["video"] == v["video"]
            ]
            lines.append(f"| {meth} | " + " | ".join(cells) + " |")
        lines.append("")
    t = result["timing"]
    lines += [
        f"## CPU time ({t['tokens']} tokens of dimension {t['dim']}, {t['frames']} frames, budget {t['fraction']:.0%}, "
        f"median of up to {t['repeats']} runs, {result['machine']['torch_threads']} torch thread(s))",
        "",
        "| method | ms per 10k tokens | ratio to frame dropping |",
        "|---|---|---|",
    ]
    base = next(r["ms_per_10k_tokens"] for r in t["rows"] if r["method"] == BASELINE)
    for r in t["rows"]:
        lines.append(
            f"| {r['method']} | {r['ms_per_10k_tokens']:.1f} | {r['ms_per_10k_tokens'] / base:.1f}x |"
        )
    lines += ["", "![coverage vs budget](compressors.png)", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos = [v["video"] for v in result["videos"]]
    ncols = 3
    nrows = (len(videos) + 1 + ncols - 1) // ncols  # one extra panel for the legend
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.8 * nrows), squeeze=False)
    flat = list(axes.flat)
    fracs = result["fractions"]
    for ax, video in zip(flat, videos):
        for meth in [BASELINE, *specs()]:
            rs = sorted(
                (r for r in result["coverage"] if r["video"] == video and r["method"] == meth),
                key=lambda r: r["fraction"],
            )
            style = dict(color="black", linestyle="--", linewidth=2) if meth == BASELINE else {}
            ax.plot(
                [r["fraction"] for r in rs],
                [r["coverage"] for r in rs],
                marker="o",
                ms=3,
                label=meth,
                **style,
            )
        ax.set_title(video, fontsize=10)
        ax.set_xscale("log")
        ax.set_xticks(fracs, [f"{f:.0%}" for f in fracs])
        ax.minorticks_off()
        ax.set_xlabel("budget (share of the input tokens)")
        ax.set_ylabel("token coverage")
        ax.grid(alpha=0.3)
    handles, labels = flat[0].get_legend_handles_labels()
    for ax in flat[len(videos) :]:
        ax.axis("off")
    flat[len(videos)].legend(handles, labels, loc="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few frames and budgets (smoke test)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: stable on a shared box)"
    )
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    num_frames = 8 if args.quick else 32
    fractions = [0.1, 0.25] if args.quick else [0.05, 0.1, 0.15, 0.25, 0.5]
    print("encoding videos ...", flush=True)
    data = datasets(num_frames, args.quick)
    cov = coverage_curves(data, fractions)
    # timing input: ~10k tokens of real frames, model-sized features (Qwen2.5-VL-3B LLM width 2048)
    t_frames, t_dim, repeats = (16, 256, 1) if args.quick else (64, 2048, 3)
    tvt = video_tokens(MEDIA / "bikes.mp4", num_frames=t_frames, dim=t_dim)
    print("timing ...", flush=True)
    timing_rows = timings(tvt, repeats, 0.25)
    result = {
        "command": "python benchmarks/compressors.py" + (" --quick" if args.quick else ""),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "note": "CPU only; other engineers' jobs shared the 2 cores during the run (load average ~10), "
            "so times are noisy.",
        },
        "encoder": "fixed Gaussian random projection (seed 0) of CLIP-normalised 28x28 px patches "
        "(14 px patches merged 2x2, as Qwen2.5-VL) to 256 dims; frames at 224 px shorter side",
        "fractions": fractions,
        "videos": [
            {
                "video": k,
                "content": what,
                "frames": len(vt.frame_ids()),
                "tokens": len(vt),
                "tokens_per_frame": len(vt) // max(1, len(vt.frame_ids())),
            }  # fmt: skip
            for k, (what, vt) in data.items()
        ],
        "coverage": cov,
        "timing": {
            "tokens": len(tvt),
            "dim": t_dim,
            "frames": t_frames,
            "fraction": 0.25,
            "repeats": repeats,
            "rows": timing_rows,
        },  # fmt: skip
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "compressors-quick" if args.quick else "compressors"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"{stem}.md").write_text(markdown(result).replace("compressors.png", f"{stem}.png"))
    plot(result, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.{{json,md,png}}")


if __name__ == "__main__":
    main()
