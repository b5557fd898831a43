"""glibc's allocator as it comes (``VIDEOPIPE_TUNE_MALLOC=0``, the baseline) against
``videopipe.malloc.tune_malloc`` (the default since 2026-12-07: the mmap and trim thresholds
raised, so large blocks are reused from the heap), in one run on this machine, taking turns.

SmolVLM2-500M at real size (``videopipe.testing.real_size``: the published architecture with
random bf16 weights), loaded as ``ask`` loads it on a bf16 CPU. Per round and setting, two fresh
processes:

- **parts**: ``model.encode`` of 16 random 1280x720 frames twice, the prefill of a 1,280-token
  prompt, 64 decoding steps (the mean), and the process's peak RSS;
- **ask**: the whole ``videopipe ask`` first question about ``real_size.py``'s 1-hour 720p video,
  16 frames, every other option at its default, in a fresh cache dir (wall, CPU-s, peak RSS).

    python benchmarks/malloc.py [--rounds 3]

Writes benchmarks/results/malloc.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import save_results  # noqa: E402
from benchmarks.real_size import QUESTION, RESULTS, ROOT, _env, ask, machine  # noqa: E402

SETTINGS = {"glibc as it comes": "0", "tune_malloc": "1"}

_PARTS = r"""
import json, resource, sys, time
import numpy as np
import torch
from videopipe.models import load_model
from videopipe.types import Frames

m = load_model(sys.argv[1], device="cpu", dtype="bfloat16", quantize="auto")  # as ask loads it
n = 16
data = np.random.default_rng(0).integers(0, 255, (n, 720, 1280, 3), dtype=np.uint8)
frames = Frames(data, np.arange(n, dtype=np.float64) * 225.0, np.arange(n))
encode = []
for _ in range(2):
    t = time.perf_counter()
    m.encode(frames, duration_s=3600.0)
    encode.append(time.perf_counter() - t)
hidden, prompt = m.model.config.text_config.hidden_size, 1280
embed = m.model.get_input_embeddings()
with torch.inference_mode():
    x = torch.randn(1, prompt, hidden, generator=torch.Generator().manual_seed(0)).to(m.dtype)
    t = time.perf_counter()
    logits, past = m._run_lm(x, torch.arange(prompt)[None, None], logits_to_keep=1)
    prefill = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(64):
        ids = torch.tensor([[int(torch.argmax(logits[0, -1]))]])
        pos = torch.full((1, 1, 1), prompt + i, dtype=torch.long)
        logits, past = m._run_lm(embed(ids), pos, past=past, past_len=prompt + i, logits_to_keep=1)
    step = (time.perf_counter() - t) / 64
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"encode_s": encode, "prefill_s": prefill, "step_ms": 1000 * step, "peak_rss_gb": rss}))
"""


def parts(model: Path, flag: str, cache: Path) -> dict[str, Any]:
    env = {**_env(cache), "VIDEOPIPE_TUNE_MALLOC": flag}
    r = subprocess.run(
        [sys.executable, "-c", _PARTS, str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return {k: [round(x, 2) for x in v] if isinstance(v, list) else round(v, 2) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS / "malloc"))
    args = ap.parse_args()

    from videopipe.config import default_cache_dir
    from videopipe.testing.real_size import build_real_model
    from videopipe.testing.videos import make_long_video

    model = build_real_model("smolvlm2-500m")
    video = make_long_video(3600.0, width=1280, height=720, repeat_of_s=60.0)
    work = default_cache_dir() / "malloc-bench"
    rows: list[dict[str, Any]] = []
    for i in range(args.rounds):
        for name, flag in SETTINGS.items():
            p = parts(model, flag, work / "parts")
            cache = work / f"ask-{flag}"
            shutil.rmtree(cache, ignore_errors=True)
            os.environ["VIDEOPIPE_TUNE_MALLOC"] = flag  # real_size.ask runs with this environment
            a = ask(model, video, QUESTION, 16, cache)
            a.pop("stderr_tail", None)
            rows.append({"round": i + 1, "setting": name, "parts": p, "ask": a})
            print(f"[{time.strftime('%H:%M:%S')}] round {i + 1} {name}: {p}, ask {a['wall_s']} s", flush=True)
    res = {"machine": machine(), "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    save_results(Path(args.out), res, markdown)


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# The C allocator's thresholds (`benchmarks/malloc.py`)",
        "",
        f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}; run {res['run_at']}. SmolVLM2-500M at real "
        "size (random bf16 weights), loaded as `ask` loads it on a bf16 CPU; the two settings take turns, "
        "each in fresh processes (module docstring). Encode: 16 frames, twice per process.",
        "",
        "| round | allocator | encode s | prefill s (1,280 tokens) | step ms | peak RSS GB (parts) "
        "| ask: wall s | ask: CPU-s | ask: encode s | ask: generate s | ask: peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        p, a = r["parts"], r["ask"]
        lines.append(
            f"| {r['round']} | {r['setting']} | {', '.join(str(x) for x in p['encode_s'])} | {p['prefill_s']} "
            f"| {p['step_ms']} | {p['peak_rss_gb']} | {a['wall_s']} | {a['cpu_s']} "
            f"| {a['seconds'].get('encode')} | {a['seconds'].get('generate')} | {a['peak_rss_mb'] / 1024:.2f} |"
        )

    def med(setting: str, get: Any) -> float:
        return statistics.median(get(r) for r in res["rows"] if r["setting"] == setting)

    base, tuned = SETTINGS
    enc = [med(s, lambda r: min(r["parts"]["encode_s"])) for s in (base, tuned)]
    wall = [med(s, lambda r: r["ask"]["wall_s"]) for s in (base, tuned)]
    rss = [med(s, lambda r: r["ask"]["peak_rss_mb"] / 1024) for s in (base, tuned)]
    lines += [
        "",
        f"Medians: encode {enc[0]:.2f} -> {enc[1]:.2f} s ({enc[0] / enc[1]:.2f}x); the whole `ask` "
        f"{wall[0]:.1f} -> {wall[1]:.1f} s ({wall[0] / wall[1]:.2f}x); its peak RSS {rss[0]:.2f} -> {rss[1]:.2f} GB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
