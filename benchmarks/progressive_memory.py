"""``progressive`` with a bounded memory (``memory_frames``) against its unbounded default.

    python benchmarks/progressive_memory.py            # full run (about a minute on 2 cores)
    python benchmarks/progressive_memory.py --quick    # smoke test

The unbounded walk compares every frame's tokens with every token kept so far, so its cost
grows with (frames x kept tokens); ``memory_frames=W`` compares only with tokens kept or
matched in the last W frames. Tokens: a long synthetic "scene walk" (frames of 8 x 14 tokens,
width 256, so the unbounded walk stays runnable on a CPU; a new scene every 24 frames, 1 in 4 scenes revisits an earlier
one, small drift within a scene), at 256 / 1024 / 2048 frames, and the real clips of
../shared/media through the fixed random patch projection (videopipe.testing.patch_features).
Same budget (25% of the tokens) for both; fidelity is ``token_coverage``. Baseline, in the
same run: the unbounded default. Writes benchmarks/results/progressive_memory.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

from videopipe.compressors import build  # noqa: E402
from videopipe.compressors.metrics import token_coverage  # noqa: E402
from videopipe.testing.patch_features import video_tokens  # noqa: E402
from videopipe.types import VisualTokens  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "benchmarks" / "results"
WINDOWS = [None, 128, 32]


def scene_walk(num_frames: int, *, h: int = 8, w: int = 14, dim: int = 256, seed: int = 0) -> VisualTokens:
    g = torch.Generator().manual_seed(seed)
    scenes: list[torch.Tensor] = []
    frames = []
    for t in range(num_frames):
        if t % 24 == 0:
            revisit = scenes and float(torch.rand(1, generator=g)) < 0.25
            if revisit:
                base = scenes[int(torch.randint(len(scenes), (1,), generator=g))]
            else:
                base = torch.randn(h, w, dim, generator=g)
                scenes.append(base)
        base = base + 0.02 * torch.randn(h, w, dim, generator=g)  # drift within the scene
        frames.append(base)
    x = torch.stack(frames)
    return VisualTokens.from_grid(x, frame_idx=range(num_frames), time_s=[t / 2 for t in range(num_frames)])


def measure(vt: VisualTokens, fraction: float) -> list[dict]:
    budget = max(1, int(fraction * len(vt)))
    rows = []
    for w in WINDOWS:
        comp = build("progressive", per_frame_budget=0, memory_frames=w)
        wall = cpu = float("inf")
        for _ in range(2):  # best of 2: the machine is shared
            c0, t0 = time.process_time(), time.perf_counter()
            out = comp(vt, budget)
            wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
        rows.append({"memory_frames": w, "wall_s": wall, "cpu_s": cpu, "coverage": token_coverage(vt, out),
                     "tokens_out": len(out)})  # fmt: skip
    base = rows[0]
    for r in rows:
        r["time_ratio_to_unbounded"] = round(r["wall_s"] / base["wall_s"], 3)
        r["coverage_minus_unbounded"] = round(r["coverage"] - base["coverage"], 4)
    return rows


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# progressive: bounded memory vs unbounded",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']}; load average at "
        f"start {m['load_avg_start']:.1f} (other jobs may share the cores; compare ratios within a row group). "
        f"Budget {res['fraction']:.0%} of the tokens, `per_frame_budget=0`. Baseline: the unbounded memory "
        "(`memory_frames=None`, the default), same run.",
        "",
        "| tokens | frames | tokens in | memory_frames | wall s | time vs unbounded | coverage | coverage - unbounded |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for case in res["cases"]:
        for r in case["rows"]:
            w = "unbounded" if r["memory_frames"] is None else str(r["memory_frames"])
            lines.append(
                f"| {case['name']} | {case['frames']} | {case['tokens']} | {w} | {r['wall_s']:.2f} | "
                f"{r['time_ratio_to_unbounded']:.2f}x | {r['coverage']:.4f} | {r['coverage_minus_unbounded']:+.4f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.manual_seed(0)
    fraction = 0.25
    cases = []
    sizes = [64, 128] if args.quick else [256, 1024, 2048]
    for n in sizes:
        vt = scene_walk(n)
        cases.append(
            {"name": "scene walk (synthetic)", "frames": n, "tokens": len(vt), "rows": measure(vt, fraction)}
        )
        print(cases[-1]["name"], n, [(r["memory_frames"], round(r["wall_s"], 2)) for r in cases[-1]["rows"]])
    for name in [] if args.quick else ["bikes.mp4", "bigbuckbunny.mp4"]:
        if (MEDIA / name).is_file():
            vt = video_tokens(MEDIA / name, num_frames=256)
            cases.append({"name": name, "frames": 256, "tokens": len(vt), "rows": measure(vt, fraction)})
            print(name, [(r["memory_frames"], round(r["coverage"], 4)) for r in cases[-1]["rows"]])
    cpu = cpu_name()
    res = {
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_avg_start": os.getloadavg()[0],
        },  # fmt: skip
        "fraction": fraction,
        "cases": cases,
    }
    md = markdown(res)
    if args.quick:
        print(md)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "progressive_memory.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "progressive_memory.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
