"""Cold start of ``videopipe ask``: where the time to the first answer token goes.

A cold ask is a fresh process: Python starts, imports, reads the model's facts, probes and
decodes the video, loads the model, encodes, compresses, builds the prompt, prefills and
produces the first token. Each row is a fresh subprocess (nothing warm but the OS page
cache, which every row shares: the files are read once before the runs).

Two measurements per code tree:

- ``videopipe ask VIDEO Q --model TINY`` as users run it: wall time to the first byte of the
  answer on stdout (the CLI streams the answer as it is generated) and to the exit;
- the same steps through the Python API in a child that stamps the clock between them:
  ``imports`` (Python start + ``import videopipe.cli.app`` + the pipeline module),
  ``facts`` (``Pipeline(load_model=False)``: config and processor files), ``probe``,
  the pipeline's own stages (decode, sample, text, load, encode, compress, ...) and
  ``first_token`` (from the start of generation to the first piece of the answer).

``--baseline PATH`` runs the same children against another checkout (e.g. a git worktree of
the commit before the cold-start changes), in the same run, alternating, so the table
compares before/after on the same machine state.

    python benchmarks/cold_start.py --baseline /tmp/vp-before     # before/after table
    python benchmarks/cold_start.py --quick                        # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
QUESTION = "What happens in the video?"

CHILD = r"""
import json, os, sys, time
t0 = float(os.environ["VP_T0"])
marks = {"python": time.time() - t0}
import videopipe.cli.app  # what the CLI imports before it runs a command
from videopipe.pipeline import Pipeline
from videopipe.config import PipelineConfig
from videopipe.decode.probe import probe
marks["imports"] = time.time() - t0
video, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = PipelineConfig(model=model, num_frames=n, cache_tokens=False, device="cpu", max_new_tokens=64)
pipe = Pipeline(config=cfg, load_model=False)
marks["facts"] = time.time() - t0
if hasattr(pipe, "preload"):  # what `videopipe ask` does (a tree before it had no preload)
    pipe.preload()
probe(video)
marks["probe"] = time.time() - t0
first = []
prepared = pipe.prepare(video, None)
marks["prepared"] = time.time() - t0
answer = pipe.answer(prepared, sys.argv[4], on_text=lambda piece: first or first.append(time.time() - t0))
marks["first_token"] = first[0] if first else None
marks["done"] = time.time() - t0
print(json.dumps({"marks": marks, "stats": answer.stats.to_dict()}))
"""


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["VP_T0"] = repr(time.time())
    return env


def run_api(tree: Path, video: Path, model: Path, frames: int) -> dict:
    env = _env(tree)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(video), str(model), str(frames), QUESTION],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(tree: Path, video: Path, model: Path, frames: int) -> dict:
    """Wall time to the first byte of the answer and to the exit of ``videopipe ask``."""
    env = _env(tree)
    cmd = [sys.executable, "-m", "videopipe", "ask", str(video), QUESTION, "--model", str(model)]
    cmd += ["-n", str(frames), "--no-cache", "--device", "cpu", "--max-new-tokens", "64"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir()
    )
    assert proc.stdout is not None
    first_byte = None
    chunks = []
    while True:
        b = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
        if not b:
            break
        if first_byte is None:
            first_byte = time.perf_counter() - t0
        chunks.append(b)
    rc = proc.wait()
    total = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"videopipe ask exited {rc}")
    return {"first_byte_s": first_byte, "exit_s": total, "stdout": b"".join(chunks).decode()[-300:]}


def phases(run: dict) -> dict[str, float]:
    """Seconds per phase of one API run, in the order they happen."""
    m, sec = run["marks"], run["stats"]["seconds"]
    out = {
        "python start": m["python"],
        "imports": m["imports"] - m["python"],
        "facts": m["facts"] - m["imports"],
        "probe": m["probe"] - m["facts"],
    }
    prepare = m["prepared"] - m["probe"]
    for k in ("decode", "sample", "text", "load", "encode"):
        if k in sec:
            out[k] = sec[k]
    out["prepare (other)"] = max(
        0.0, prepare - sum(sec.get(k, 0.0) for k in ("decode", "sample", "text", "load", "encode"))
    )
    for k in ("compress",):
        if k in sec:
            out[k] = sec[k]
    ttft = m["first_token"]
    out["to first token"] = ttft - m["prepared"] - sec.get("compress", 0.0)
    out["rest of answer"] = m["done"] - ttft
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="checkout of the code before (same run, alternating)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks._machine import cpu_name
    from videopipe.testing.tiny_models import build_tiny_model
    from videopipe.testing.videos import make_long_video

    video = make_long_video(60, width=640, height=360, gop=50)
    model = build_tiny_model("qwen2_5_vl", Path(tempfile.mkdtemp()) / "tiny-qwen2.5-vl")
    for p in [video, *model.iterdir()]:  # page cache warm for every row alike
        p.read_bytes()
    trees = {"after": ROOT}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), **trees}
    reps = 1 if args.quick else args.repeats
    load0 = os.getloadavg()[0]
    api: dict[str, list[dict]] = {k: [] for k in trees}
    cli: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(reps):
        for name, tree in trees.items():
            api[name].append(run_api(tree, video, model, args.frames))
            cli[name].append(run_cli(tree, video, model, args.frames))
            print(
                f"rep {r} {name}: first byte {cli[name][-1]['first_byte_s']:.2f}s, exit {cli[name][-1]['exit_s']:.2f}s",
                flush=True,
            )
    load1 = os.getloadavg()[0]

    def med(xs: list[float]) -> float:
        return round(statistics.median(xs), 3)

    table = {}
    for name in trees:
        ph = [phases(r) for r in api[name]]
        keys = list(dict.fromkeys(k for p in ph for k in p))
        table[name] = {
            "phases_s": {k: med([p.get(k, 0.0) for p in ph]) for k in keys},
            "api_first_token_s": med([r["marks"]["first_token"] for r in api[name]]),
            "cli_first_byte_s": med([c["first_byte_s"] for c in cli[name]]),
            "cli_exit_s": med([c["exit_s"] for c in cli[name]]),
        }
    result = {
        "command": "python benchmarks/cold_start.py" + (" --baseline BEFORE" if args.baseline else ""),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(load0, 2), round(load1, 2)],
        "video": video.name,
        "frames": args.frames,
        "model": "tiny random Qwen2.5-VL (videopipe.testing.tiny_models, hidden 64, 2 layers)",
        "repeats": reps,
        "results": table,
        "raw": {"api": api, "cli": cli},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "cold_start.md").write_text(markdown(result))
    print(markdown(result))


def markdown(res: dict) -> str:
    t = res["results"]
    names = list(t)
    lines = [
        "# Cold start: `videopipe ask` time to the first answer token",
        "",
        f"Machine: {res['machine']}. Load average {res['load_average'][0]} at the start, "
        f"{res['load_average'][1]} at the end (1.0 = one busy core of 2).",
        f"Video: {res['video']} ({res['frames']} frames sampled); model: {res['model']}. "
        f"Median of {res['repeats']} fresh processes per column, columns alternating.",
        "",
        "Whole process (`videopipe ask VIDEO Q --model TINY -n N`, the answer streamed to stdout):",
        "",
        "| measure | " + " | ".join(names) + (" | after / before |" if len(names) == 2 else " |"),
        "|---|" + "---|" * len(names) + ("---|" if len(names) == 2 else ""),
    ]
    for key, label in (("cli_first_byte_s", "first byte of the answer s"), ("cli_exit_s", "exit s")):
        vals = [t[n][key] for n in names]
        ratio = f" {vals[1] / vals[0]:.2f}x |" if len(names) == 2 and vals[0] else ""
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + " |" + ratio)
    lines += ["", "Phases of the same steps through the API (seconds, in order):", ""]
    keys = list(dict.fromkeys(k for n in names for k in t[n]["phases_s"]))
    lines.append("| phase | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{t[n]['phases_s'].get(k, 0.0):.3f}" for n in names) + " |")
    lines.append(
        "| **time to first token** | "
        + " | ".join(f"**{t[n]['api_first_token_s']:.3f}**" for n in names)
        + " |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
