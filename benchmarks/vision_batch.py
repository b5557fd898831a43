"""How many frames the vision tower should take at once on the CPU (``frames_per_batch``).

``load_model(..., frames_per_batch=B)`` then ``model.encode(frames)`` -- the pipeline's own
encode path: pixel preparation, the vision tower and the connector, ``B`` frames at a time --
at real size (``videopipe.testing.real_size`` checkpoints: the published SmolVLM2
architectures, random bf16 weights; cost depends on the architecture, not the values), in
the dtype ``ask`` runs (``auto``: bfloat16 on a CPU with native bf16). Each (model, B) runs in
its own fresh process (so its peak RSS is its own; ``--quantize`` as ``load_model`` takes it),
the batch sizes taking turns over ``--rounds``; per process: one warm-up encode of ``B``
frames, then ``--repeats`` timed encodes of ``--frames`` random 1280x720 frames. Reported: the minimum seconds per frame (wall and CPU:
user + sys), the peak RSS, and the load average at the start of each process.

    python benchmarks/vision_batch.py                     # 500M: B 4/8/16/32; 2.2B: B 4/8/16
    python benchmarks/vision_batch.py --models smolvlm2-500m --batches 8,16,32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from _machine import cpu_name  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import torch
from videopipe.models import load_model
from videopipe.types import Frames
path, batch, n, repeats, quantize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
g = torch.Generator().manual_seed(0)
data = torch.randint(0, 256, (n, 720, 1280, 3), dtype=torch.uint8, generator=g)
idx = torch.arange(n)
frames = Frames(data=data, pts_s=idx * 60.0, indices=idx)
model = load_model(path, device="cpu", frames_per_batch=batch, quantize=quantize)
warm = Frames(data=data[:batch], pts_s=idx[:batch] * 60.0, indices=idx[:batch])
model.encode(warm)
rows = []
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    tokens = model.encode(frames)
    rows.append({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "tokens": len(tokens)})
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
print("RESULT " + json.dumps({"runs": rows, "peak_rss_gb": rss, "threads": torch.get_num_threads()}))
"""


def run_child(model_dir: Path, batch: int, frames: int, repeats: int, quantize: str = "none") -> dict:
    load = os.getloadavg()[0]
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(model_dir), str(batch), str(frames), str(repeats), quantize],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"{model_dir} B={batch} failed:\n{r.stderr[-3000:]}")
    got = json.loads(line[len("RESULT ") :])
    return {**got, "load_avg": round(load, 2)}


def summarise(runs: list[dict], frames: int) -> dict:
    walls = [x["wall_s"] for r in runs for x in r["runs"]]
    cpus = [x["cpu_s"] for r in runs for x in r["runs"]]
    return {
        "min_wall_s_per_frame": round(min(walls) / frames, 3),
        "min_cpu_s_per_frame": round(min(cpus) / frames, 3),
        "peak_rss_gb": round(max(r["peak_rss_gb"] for r in runs), 2),
        "load_avg": [r["load_avg"] for r in runs],
    }


def markdown(result: dict) -> str:
    out = [
        "# Vision-tower batch size on the CPU (`benchmarks/vision_batch.py`)",
        "",
        f"{result['machine']}, run {result['time_utc']} UTC. `load_model(..., frames_per_batch=B)` + "
        "`model.encode` (pixel preparation, vision tower, connector) of random 1280x720 frames, "
        "dtype auto (bfloat16 here), one fresh process per (model, B), the batch sizes taking turns; "
        "minimum over every timed encode. Random weights: time and memory only.",
        "",
        "| model | frames per encode | B (frames_per_batch) | wall s / frame | CPU s / frame | peak RSS GB | load avg at each start |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in result["models"].items():
        for b, s in m["batches"].items():
            out.append(
                f"| {name} | {m['frames']} | {b} | {s['min_wall_s_per_frame']} | {s['min_cpu_s_per_frame']} | "
                f"{s['peak_rss_gb']} | {', '.join(str(x) for x in s['load_avg'])} |"
            )
    out += ["", *result.get("notes", [])]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smolvlm2-500m,smolvlm2-2.2b")
    ap.add_argument("--batches", default=None, help="B values (default: 4,8,16,32 for 500M; 4,8,16 for 2.2B)")
    ap.add_argument("--frames", type=int, default=None, help="frames per encode (default: 32 / 16)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--quantize", default="none", help="load_model's quantize (int8: the tower's dynamic int8)"
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "vision_batch.json")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from videopipe.testing.real_size import build_real_model

    result: dict = {
        "benchmark": "vision_batch",
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "quantize": args.quantize,
        "models": {},
    }
    for name in [m for m in args.models.split(",") if m]:
        big = "2.2b" in name
        batches = [int(b) for b in (args.batches or ("4,8,16" if big else "4,8,16,32")).split(",")]
        frames = args.frames or (16 if big else 32)
        model_dir = build_real_model(name)
        runs: dict[int, list[dict]] = {b: [] for b in batches}
        for i in range(args.rounds):
            for b in batches if i % 2 == 0 else batches[::-1]:
                runs[b].append(run_child(model_dir, b, frames, args.repeats, args.quantize))
                print(f"{name} B={b}: {runs[b][-1]}", flush=True)
        label = name if args.quantize == "none" else f"{name} --quantize {args.quantize}"
        result["models"][label] = {
            "frames": frames,
            "batches": {str(b): summarise(rs, frames) for b, rs in runs.items()},
            "runs": {str(b): rs for b, rs in runs.items()},
        }
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))


if __name__ == "__main__":
    main()
