"""Encode seconds of two code trees on one checkpoint: does the code (not the checkpoint) encode
slower? ``design_split.py``'s e2e and encode_once rows let each tree build its own tiny model,
and the tiny-model builder changed between the trees; here both trees load the *same* tiny
Qwen2.5-VL checkpoint (built once, by the tree of the first ``--trees`` entry, with the real
per-frame pixel limits as in ``e2e.py``: 224 tokens per 448x784 frame) and encode the
same 64 random frames (448x784), each tree in its own fresh process, the trees alternating,
``--rounds`` times; the minimum per tree filters out the shared machine's other load.

    python3 benchmarks/encode_same_checkpoint.py --trees /tmp/split/base /tmp/split/head
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, torch
from videopipe.models import load_model
from videopipe.types import Frames
torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
n, h, w = 64, 448, 784
data = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=g)
idx = torch.arange(n)
frames = Frames(data=data, pts_s=idx / 2.0, indices=idx)
model = load_model(sys.argv[1], device="cpu", dtype="float32")  # "auto" differs between trees
model.encode(frames)  # warm
out = []
for _ in range(3):
    t0 = time.perf_counter(); c0 = time.process_time()
    tok = model.encode(frames)
    out.append({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                "split": tok.meta.get("seconds"), "pixel_prep": tok.meta.get("pixel_prep"), "tokens": len(tok)})
print("RESULT " + json.dumps(out))
"""

DECODE_CHILD = r"""
import json, sys, time
from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
cfg = PipelineConfig(model=sys.argv[1], num_frames=64, size_px=448, sampler="uniform", compressor="none",
                     cache_tokens=False, text="none", device="cpu")
pipe = Pipeline(config=cfg, load_model=False)
pipe.select_and_decode(sys.argv[2])  # warm: probe, frame table, decoder
out = []
for _ in range(3):
    t0 = time.perf_counter(); c0 = time.process_time()
    pipe.select_and_decode(sys.argv[2])
    out.append({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0})
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, type=Path, required=True, metavar=("BASE", "HEAD"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode", default=None, help="a video: time the CPU stage (select_and_decode) instead")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "encode_same_checkpoint.json"
    )
    args = ap.parse_args()
    model_dir = Path(tempfile.mkdtemp()) / "tiny-qwen2.5-vl"
    build = (  # with Qwen2.5-VL's real per-frame pixel limits, as e2e.py gives its model
        "import sys; sys.path.insert(0, 'benchmarks'); from e2e import _real_qwen_frame_limits; "
        "from pathlib import Path; from videopipe.testing.tiny_models import build_tiny_model; "
        "build_tiny_model('qwen2_5_vl', sys.argv[1]); _real_qwen_frame_limits(Path(sys.argv[1]))"
    )
    env0 = {**os.environ, "PYTHONPATH": str(args.trees[0])}
    subprocess.run([sys.executable, "-c", build, str(model_dir)], check=True, env=env0, cwd=args.trees[0])
    rows: dict[str, list[dict]] = {str(t): [] for t in args.trees}
    loads = []
    for i in range(args.rounds):
        order = args.trees if i % 2 == 0 else args.trees[::-1]
        for tree in order:
            loads.append(os.getloadavg()[0])
            child = (
                [CHILD, str(model_dir)]
                if args.decode is None
                else [DECODE_CHILD, str(model_dir), args.decode]
            )
            r = subprocess.run(
                [sys.executable, "-c", *child],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
            if r.returncode != 0 or line is None:
                raise SystemExit(f"{tree} failed:\n{r.stderr[-3000:]}")
            rows[str(tree)] += json.loads(line[len("RESULT ") :])
    summary = {
        tree: {
            "min_wall_s": round(min(x["wall_s"] for x in rs), 3),
            "min_cpu_s": round(min(x["cpu_s"] for x in rs), 3),
            **(
                {
                    "min_pixels_s": round(min(x["split"]["pixels"] for x in rs), 3),
                    "min_vision_s": round(min(x["split"]["vision"] for x in rs), 3),
                    "pixel_prep": sorted({x["pixel_prep"] for x in rs}),
                    "tokens": rs[0]["tokens"],
                }
                if args.decode is None
                else {}
            ),
        }
        for tree, rs in rows.items()
    }
    res = {
        "benchmark": "encode_same_checkpoint",
        "checkpoint": f"tiny Qwen2.5-VL built by {args.trees[0]}",
        "frames": "64 x 448x784 random uint8"
        if args.decode is None
        else f"select_and_decode of {args.decode}",
        "load_avg_at_each_run": loads,
        "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "summary": summary,
        "runs": rows,
    }
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(summary, indent=2), "\nloads", loads)


if __name__ == "__main__":
    main()
