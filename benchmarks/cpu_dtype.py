"""bfloat16 vs float32 on the CPU, at real width: what ``--dtype auto`` picks where the CPU
computes bf16 natively (AVX512-BF16 / AMX / Arm BF16), measured.

The SmolVLM2-2.2B architecture (``videopipe.testing.real_size``: SigLIP 1152 wide at 384 px,
pixel shuffle 3, SmolLM2-1.7B 2048 wide, the real vocabulary) with its depth cut
(``--vision-layers``, ``--text-layers``), random bf16 weights. The same checkpoint loaded in
float32 and in bfloat16 (``load_model(dtype=...)``), the same frames:

1. encode: seconds per frame (median of ``--repeats``, the two dtypes alternating), and the
   drift of the visual tokens against float32 (max abs, max abs relative to the largest
   float32 value, cosine per token: mean and min);
2. prefill + generation: seconds of the prompt's forward pass, drift of the last position's
   logits (max abs, cosine, same argmax), and how many of the first ``--new-tokens`` greedy
   tokens agree (random weights: near-flat logits make this a harsh test);
3. load: peak RSS of a fresh process that loads the checkpoint in each dtype, against the
   weights' size in that dtype (a float32 detour would show as the float32 size);
4. the attention implementation each part of the model runs (sdpa, set explicitly).

    python benchmarks/cpu_dtype.py                       # 4 vision + 2 text layers, 8 frames
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

# VmHWM (this process's peak RSS, in kB), not ru_maxrss: Linux carries ru_maxrss over from
# the parent across fork + exec, so a child of a 4 GB benchmark would start at 4 GB
_LOAD_PROBE = """
import sys, torch
from videopipe.models import load_model
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
base = hwm()
m = load_model(sys.argv[1], device="cpu", dtype=sys.argv[2])
n = sum(p.numel() * p.element_size() for p in m.model.parameters())
print(base, hwm(), n / 2**20)
"""


def _frames(px: int, n: int) -> Any:
    """``n`` frames of a generated scenes video at the tower's size (natural-ish content)."""
    from videopipe.decode import open_video
    from videopipe.testing.videos import make_video, scenes_video

    path = make_video(scenes_video((n * 3,), width=px, height=px))
    with open_video(path, backend="pyav") as r:
        return r.frames_at(list(range(0, 3 * n, 3)))


def _timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _drift(ref: Any, got: Any) -> dict[str, float]:
    import torch

    a, b = ref.float(), got.float()
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return {
        "max_abs": float((a - b).abs().max()),
        "max_abs_rel": float((a - b).abs().max() / a.abs().max()),
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
    }


def _load_rss(model_dir: Path, dtype: str) -> dict[str, float]:
    import os

    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, str(model_dir), dtype],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    base, peak, weights = (float(x) for x in out[-3:])
    return {"rss_before_mb": base, "rss_peak_mb": peak, "load_mb": peak - base, "weights_mb": weights}


def _attention(m: Any) -> dict[str, str]:
    cfg = m.model.config
    return {
        "model": str(cfg._attn_implementation),
        "text": str(cfg.get_text_config()._attn_implementation),
        "vision": str(cfg.vision_config._attn_implementation),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smolvlm2-2.2b")
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--out", default=str(RESULTS / "cpu_dtype"))
    args = ap.parse_args()

    import torch
    from _machine import cpu_name

    from videopipe.devices import cpu_bf16_native, cpu_flags
    from videopipe.models import load_model
    from videopipe.models.checkpoint import resolve_dtype
    from videopipe.testing.real_size import REAL_SPECS, build_real_model

    spec = REAL_SPECS[args.model]
    d = build_real_model(args.model, text_layers=args.text_layers, vision_layers=args.vision_layers)
    frames = _frames(spec.frame_px, args.frames)
    models = {
        dt: load_model(d, device="cpu", dtype=dt, frames_per_batch=args.frames)
        for dt in ("float32", "bfloat16")
    }
    question = "What happens in this video?"
    enc: dict[str, list[float]] = {dt: [] for dt in models}
    pre: dict[str, list[float]] = {dt: [] for dt in models}
    tokens: dict[str, Any] = {}
    logits: dict[str, Any] = {}
    for dt, m in models.items():  # warm-up (first-call allocations, oneDNN kernels)
        tokens[dt] = m.encode(frames)
        logits[dt] = m.forward_logits(tokens[dt], question)
    for _ in range(args.repeats):
        for dt, m in models.items():
            s, tokens[dt] = _timed(lambda m=m: m.encode(frames))
            enc[dt].append(s / len(frames))
            s, logits[dt] = _timed(lambda m=m, dt=dt: m.forward_logits(tokens[dt], question))
            pre[dt].append(s)
    answers = {
        dt: list(m._token_ids(tokens[dt], question, max_new_tokens=args.new_tokens))
        for dt, m in models.items()
    }
    agree = 0
    for a, b in zip(answers["float32"], answers["bfloat16"]):
        if a != b:
            break
        agree += 1
    # the bf16 model's logits of the float32 model's tokens: the LLM's own drift
    cross = models["bfloat16"].forward_logits(tokens["float32"], question)
    last32, last16 = logits["float32"][-1], logits["bfloat16"][-1]
    res: dict[str, Any] = {
        "machine": {
            "cpu": cpu_name(),
            "bf16_native": cpu_bf16_native(),
            "bf16_flags": sorted({"avx512_bf16", "amx_bf16", "bf16"} & cpu_flags()),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "auto_dtype_cpu": str(resolve_dtype("auto", torch.device("cpu"))),
        },
        "model": {
            "spec": args.model,
            "vision_layers": args.vision_layers,
            "text_layers": args.text_layers,
            "frames": len(frames),
            "frame_px": spec.frame_px,
            "visual_tokens": len(tokens["float32"]),
            "prompt_tokens": int(logits["float32"].shape[0]),
        },
        "attention": {dt: _attention(m) for dt, m in models.items()},
        "encode_s_per_frame": {dt: statistics.median(v) for dt, v in enc.items()},
        "prefill_s": {dt: statistics.median(v) for dt, v in pre.items()},
        "visual_token_drift": _drift(tokens["float32"].features, tokens["bfloat16"].features),
        "logit_drift_last": {
            **_drift(last32[None], last16[None]),
            "same_argmax": bool(last32.argmax() == last16.argmax()),
        },
        "logit_drift_llm_only": _drift(logits["float32"][-1:], cross[-1:]),
        # random weights give near-flat logits: the float32 gap between the best two next tokens
        # against the bf16 drift says whether greedy tokens can agree at all
        "top2_gap_float32": float(last32.topk(2).values.diff().abs()),
        "first_tokens_agree": f"{agree}/{args.new_tokens}",
        "load": {dt: _load_rss(d, dt) for dt in models},
    }
    res["speedup_encode"] = res["encode_s_per_frame"]["float32"] / res["encode_s_per_frame"]["bfloat16"]
    res["speedup_prefill"] = res["prefill_s"]["float32"] / res["prefill_s"]["bfloat16"]
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(res))
    print(_markdown(res))


def _markdown(r: dict[str, Any]) -> str:
    m, mo = r["machine"], r["model"]
    e, p, v, lg = r["encode_s_per_frame"], r["prefill_s"], r["visual_token_drift"], r["logit_drift_last"]
    lo = r["load"]
    lines = [
        "# bfloat16 vs float32 on the CPU (`benchmarks/cpu_dtype.py`)",
        "",
        f"{m['cpu']}, {m['threads']} threads, torch {m['torch']}; native bf16: {m['bf16_native']} "
        f"(flags {', '.join(m['bf16_flags']) or 'none'}); `--dtype auto` on this CPU: {m['auto_dtype_cpu']}.",
        f"Model: `{mo['spec']}` architecture, real widths, {mo['vision_layers']} vision / "
        f"{mo['text_layers']} text layers, random weights; {mo['frames']} frames at {mo['frame_px']} px, "
        f"{mo['visual_tokens']} visual tokens, {mo['prompt_tokens']}-token prompt. Medians, dtypes alternating.",
        "",
        "| | float32 | bfloat16 | speedup |",
        "|---|---|---|---|",
        f"| encode, s per frame | {e['float32']:.3f} | {e['bfloat16']:.3f} | {r['speedup_encode']:.2f}x |",
        f"| prefill, s | {p['float32']:.3f} | {p['bfloat16']:.3f} | {r['speedup_prefill']:.2f}x |",
        f"| load: peak RSS growth / weights, MB | {lo['float32']['load_mb']:.0f} / {lo['float32']['weights_mb']:.0f} "
        f"| {lo['bfloat16']['load_mb']:.0f} / {lo['bfloat16']['weights_mb']:.0f} | |",
        "",
        "Drift of bfloat16 against float32:",
        "",
        "| what | max abs | max abs / max | cosine mean | cosine min |",
        "|---|---|---|---|---|",
        f"| visual tokens | {v['max_abs']:.4g} | {v['max_abs_rel']:.4g} | {v['cos_mean']:.6f} | {v['cos_min']:.6f} |",
        f"| last logits (whole model) | {lg['max_abs']:.4g} | {lg['max_abs_rel']:.4g} | {lg['cos_mean']:.6f} | "
        f"{lg['cos_min']:.6f} |",
        f"| last logits (LLM only, same tokens) | {r['logit_drift_llm_only']['max_abs']:.4g} | "
        f"{r['logit_drift_llm_only']['max_abs_rel']:.4g} | {r['logit_drift_llm_only']['cos_mean']:.6f} | |",
        "",
        f"Same next token: {lg['same_argmax']}; first greedy tokens that agree: {r['first_tokens_agree']} "
        f"(random weights: the float32 gap between the best two next tokens is {r['top2_gap_float32']:.3g}, "
        f"below the logits' bf16 drift, so greedy agreement says little here).",
        f"Attention: {', '.join(f'{k}={v}' for k, v in r['attention']['bfloat16'].items())}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
