"""How fast can any ``ask`` be? The work every way of answering must do, measured alone, against
the whole ``ask`` and the model-card way in one run on this machine.

SmolVLM2-500M at real size (``videopipe.testing.real_size``: the published architecture with
random bf16 weights), the first question about the 1-hour 720p video of ``real_size.py`` with
``--num-frames`` N (16: the CPU default). The parts no answer can skip, each timed alone:

- **imports**: a fresh process importing torch, transformers and the SmolVLM2 model and
  processor modules, and nothing else (median of 3). The model-card way pays it too.
- **vision tower**: ``model.encode`` of N frames at the size ``ask`` decodes them (pixel
  preparation, the tower, the connector) in bfloat16, the dtype both ways run it in; and the
  fastest speed options (``--quantize int8 --vision-merge 32``: the int8 tower with ToMe
  r=32, ``cpu_speed_options.md``). Best of 2.
- **language model**: the prefill of the prompt (``ask``'s token count for N frames) and the
  answer's 128 decoding steps, with ``ask``'s default int8 weights (best of 2 prefills; the
  median step times 128).

floor = imports + tower + prefill + 128 steps: what an ``ask`` costs with *nothing else* (no
video decoding, no weight loading, no process or CLI cost), a lower bound. The model-card way's
whole process divided by the floor is the most any ``ask`` using these parts can be faster than
it. Rounds take turns: ``ask``, the model-card way, the parts.

    python benchmarks/ask_floor.py [--frames 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_size  # noqa: E402  (the same ask / model-card runs and video as real_size.py)

MODEL = "smolvlm2-500m"
NEW_TOKENS = 128

_IMPORTS = (
    "import torch, transformers\n"
    "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
    "from transformers.models.smolvlm import modeling_smolvlm, processing_smolvlm, video_processing_smolvlm\n"
)

# the parts, in one process: argv = model dir, frames, prompt tokens, answer tokens, out json
_PARTS = r"""
import json, statistics, sys, time
import numpy as np
import torch
from videopipe.models import load_model
from videopipe.types import Frames

path, n, prompt, new, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
res = {}

def encode_s(**opts):
    m = load_model(path, device="cpu", dtype="bfloat16", **opts)
    h, w = m.decode_size(720, 1280, n, m.budget(num_frames=n))
    data = np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    frames = Frames(data, np.arange(n, dtype=np.float64) * (3600.0 / n), np.arange(n))
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        m.encode(frames, duration_s=3600.0)
        best = min(best, time.perf_counter() - t)
    res.setdefault("frame_size", [h, w])
    return m, best

m, res["tower_bf16_s"] = encode_s(quantize="auto")
hidden = m.model.config.text_config.hidden_size
embed = m.model.get_input_embeddings()
with torch.inference_mode():
    x = torch.randn(1, prompt, hidden, generator=torch.Generator().manual_seed(0)).to(m.dtype)
    pre = []
    for _ in range(2):
        t = time.perf_counter()
        logits, past = m._run_lm(x, torch.arange(prompt)[None, None], logits_to_keep=1)
        pre.append(time.perf_counter() - t)
    steps = []
    for i in range(new):
        t = time.perf_counter()
        ids = torch.tensor([[int(torch.argmax(logits[0, -1]))]])
        pos = torch.full((1, 1, 1), prompt + i, dtype=torch.long)
        logits, past = m._run_lm(embed(ids), pos, past=past, past_len=prompt + i, logits_to_keep=1)
        steps.append(time.perf_counter() - t)
res["prefill_s"] = min(pre)
res["step_ms"] = 1000 * statistics.median(steps)
del m, past, logits
_, res["tower_options_s"] = encode_s(quantize="int8", vision_merge=32)
json.dump(res, open(out, "w"))
"""


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=real_size.ROOT, capture_output=True)
    return time.perf_counter() - t


def parts(model: Path, frames: int, prompt_tokens: int, work: Path) -> dict[str, Any]:
    imports = statistics.median(_wall([sys.executable, "-c", _IMPORTS]) for _ in range(3))
    out = work / "parts.json"
    cmd = [
        sys.executable,
        "-c",
        _PARTS,
        str(model),
        str(frames),
        str(prompt_tokens),
        str(NEW_TOKENS),
        str(out),
    ]
    subprocess.run(cmd, check=True, cwd=real_size.ROOT, capture_output=True, env=real_size._env(work))
    p = json.loads(out.read_text())
    lm = p["prefill_s"] + NEW_TOKENS * p["step_ms"] / 1000
    p.update(
        imports_s=imports,
        floor_s=imports + p["tower_bf16_s"] + lm,
        floor_options_s=imports + p["tower_options_s"] + lm,
    )
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items()}


def _machine(m: dict[str, Any]) -> str:
    return f"{m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, torch {m['torch']}, native bf16: {m['bf16_native']}"


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# How fast can any `ask` be? (`benchmarks/ask_floor.py`)",
        "",
        f"{_machine(res['machine'])}; run {res['run_at']}. SmolVLM2-500M at real size (random bf16 weights), "
        f"the first question about the 1-hour 720p video with --num-frames {res['frames']} "
        f"({res['prompt_tokens']} prompt tokens, {NEW_TOKENS} answer tokens). Each round: the whole "
        "`ask` (fresh cache dir), the whole model-card way, then the parts alone (module docstring). "
        "floor = imports + tower + prefill + 128 steps: an `ask` with nothing else, a lower bound.",
        "",
        "| round | ask s | model-card s | ask vs card | imports s | tower bf16 s | tower int8+ToMe32 s "
        "| prefill s | step ms | floor s | card / floor | floor with options s | card / floor with options |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(res["rounds"], 1):
        p = r["parts"]
        lines.append(
            f"| {i} | {r['ask_s']} | {r['card_s']} | {r['card_s'] / r['ask_s']:.2f}x | {p['imports_s']} "
            f"| {p['tower_bf16_s']} | {p['tower_options_s']} | {p['prefill_s']} | {p['step_ms']} "
            f"| {p['floor_s']:.1f} | {r['card_s'] / p['floor_s']:.2f}x | {p['floor_options_s']:.1f} "
            f"| {r['card_s'] / p['floor_options_s']:.2f}x |"
        )
    rs = res["rounds"]

    def span(values: list[float], fmt: str = "{:.2f}") -> str:
        lo, hi = min(values), max(values)
        return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"

    lines += [
        "",
        f"Reading: `ask` took {span([r['ask_s'] - r['parts']['floor_s'] for r in rs], '{:.1f}')} s more than "
        "its floor (decoding the frames, loading the weights, the process and CLI; the rounds differ "
        "by the machine's noise, which moves every stage by up to 25 %). No `ask` built on these parts "
        "can be faster than the model-card way by more than card / floor: "
        f"**{span([r['card_s'] / r['parts']['floor_s'] for r in rs])}x with the defaults** (which are "
        "lossless but for the language model's int8 weights) and "
        f"**{span([r['card_s'] / r['parts']['floor_options_s'] for r in rs])}x with the speed options**; "
        "the imports and the bf16 vision tower alone are "
        f"{span([(r['parts']['imports_s'] + r['parts']['tower_bf16_s']) / r['parts']['floor_s'] for r in rs], '{:.0%}')}"
        " of the floor, and the model-card way pays both too.",
        *res.get("notes", []),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(real_size.RESULTS / "ask_floor"))
    ap.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    args = ap.parse_args()
    out = Path(args.out)
    if args.report:
        out.with_suffix(".md").write_text(markdown(json.loads(out.with_suffix(".json").read_text())))
        return

    sys.path.insert(0, str(real_size.ROOT))
    from videopipe.config import default_cache_dir
    from videopipe.testing.real_size import build_real_model
    from videopipe.testing.videos import make_long_video

    model = build_real_model(MODEL)
    video = make_long_video(3600.0, width=1280, height=720, repeat_of_s=60.0)
    work = default_cache_dir() / "ask-floor-bench"
    rounds = []
    for i in range(args.rounds):
        cache = work / f"ask-{args.frames}"
        shutil.rmtree(cache, ignore_errors=True)
        a = real_size.ask(model, video, real_size.QUESTION, args.frames, cache)
        c = real_size.card(model, video, real_size.QUESTION, args.frames, NEW_TOKENS, work / "card")
        p = parts(model, args.frames, int(a["prompt_tokens"]), work)
        rounds.append({"ask_s": a["wall_s"], "ask": a, "card_s": c["wall_s"], "card": c, "parts": p})
        real_size._log(f"round {i + 1}: ask {a['wall_s']} s, card {c['wall_s']} s, parts {p}")
    res = {
        "machine": real_size.machine(),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "frames": args.frames,
        "prompt_tokens": rounds[0]["ask"]["prompt_tokens"],
        "rounds": rounds,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
