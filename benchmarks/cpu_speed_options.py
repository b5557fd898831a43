"""The CPU speed options at real model size: ``--quantize int8`` and ``--vision-merge R``
(ToMe) against bfloat16, the CPU default on a CPU with native bf16, with their drift against
float32.

Checkpoints: ``videopipe.testing.real_size`` builds of SmolVLM2-500M and SmolVLM2-2.2B with
their published widths, vocabulary and processors and random bf16 weights: the vision tower
at its full published depth (ToMe's saving grows with depth, so it is not cut), the language
model cut to ``--text-layers`` (its time per layer is what the options change; the depth only
multiplies it). Random weights: what is measured is time and numerical drift, never answer
quality.

1. vision tower + connector, per configuration (float32, bfloat16, bfloat16+int8,
   bfloat16+ToMe r for each ``--merge`` value, bfloat16+int8+ToMe): wall and CPU seconds
   (user+sys of this process, which load does not inflate) per frame, median of
   ``--repeats``; the tokens left after the last layer; drift of the visual tokens against
   float32 (max abs, cosine per token: mean and min); load seconds (int8 includes quantizing);
2. language model (the 2.2B build), float32 / bfloat16 / bfloat16+int8: prefill seconds and
   seconds per generated token on the same float32 visual tokens, drift of the last
   position's logits against float32 (max abs, cosine, same argmax), and for every
   configuration the whole model on its own tokens: same next token as float32 and how many
   of the first ``--new-tokens`` greedy tokens agree.

The machine is shared: the load average at start and end is recorded beside every time.

    python benchmarks/cpu_speed_options.py        # 4 frames, 2 repeats, ~15 min on 2 cores
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

QUESTION = "What happens in this video?"


def _frames(px: int, n: int) -> Any:
    """``n`` frames of a generated scenes video at the tower's size."""
    from videopipe.decode import open_video
    from videopipe.testing.videos import make_video, scenes_video

    path = make_video(scenes_video((n * 3,), width=px, height=px))
    with open_video(path, backend="pyav") as r:
        return r.frames_at(list(range(0, 3 * n, 3)))


def _timed(fn: Any) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _drift(ref: Any, got: Any) -> dict[str, float]:
    import torch

    a, b = ref.float(), got.float()
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return {"max_abs": float((a - b).abs().max()), "cos_mean": float(cos.mean()), "cos_min": float(cos.min())}


def _configs(merges: list[int]) -> list[tuple[str, str, str, int]]:
    """(label, dtype, quantize, vision_merge)."""
    out = [("float32", "float32", "none", 0), ("bfloat16", "bfloat16", "none", 0)]
    out.append(("bfloat16+int8", "bfloat16", "int8", 0))
    out += [(f"bfloat16+ToMe r={r}", "bfloat16", "none", r) for r in merges]
    out.append((f"bfloat16+int8+ToMe r={merges[-1]}", "bfloat16", "int8", merges[-1]))
    return out


def _answer(model: Any, tokens: Any, new_tokens: int) -> list[int]:
    """The greedy answer's token ids (prefill + ``new_tokens`` decoding steps)."""
    from videopipe.model_records import GenerationOptions

    return list(model._token_ids(tokens, QUESTION, GenerationOptions(max_new_tokens=new_tokens)))


def _agree(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _bench_model(name: str, args: argparse.Namespace, *, llm: bool) -> dict[str, Any]:
    from videopipe.models import load_model
    from videopipe.models.tome import merge_state
    from videopipe.testing.real_size import REAL_SPECS, build_real_model

    spec = REAL_SPECS[name]
    d = build_real_model(name, text_layers=args.text_layers if llm else 1)
    frames = _frames(spec.frame_px, args.frames)
    merges = [int(x) for x in (args.merge_2b if "2.2b" in name else args.merge_small).split(",")]
    rows: list[dict[str, Any]] = []
    ref_tokens: Any = None
    ref_ids: list[int] = []
    ref_last: Any = None
    for label, dtype, quantize, merge in _configs(merges):
        load_s, _, m = _timed(
            partial(
                load_model,
                d,
                device="cpu",
                dtype=dtype,
                quantize=quantize,
                vision_merge=merge,
                frames_per_batch=args.frames,
            )
        )
        m.encode(frames[:1])  # warm-up: first-call allocations, kernel selection
        walls, cpus = [], []
        for _ in range(args.repeats):
            w, c, tokens = _timed(lambda m=m: m.encode(frames))
            walls.append(w / len(frames))
            cpus.append(c / len(frames))
        state = merge_state(m.model)
        row: dict[str, Any] = {
            "config": label,
            "dtype": dtype,
            "quantize": quantize,
            "vision_merge": merge,
            "load_s": load_s,
            "encode_wall_s_per_frame": statistics.median(walls),
            "encode_cpu_s_per_frame": statistics.median(cpus),
            "tower_tokens_in": state.tokens[0] if state else None,
            "tower_tokens_last_layer": state.tokens[-1] - min(merge, state.tokens[-1] // 2)
            if state
            else None,
            "visual_tokens": len(tokens),
        }
        if ref_tokens is None:
            ref_tokens = tokens
        row["visual_token_drift"] = _drift(ref_tokens.features, tokens.features)
        if llm:
            own_ids = _answer(m, tokens, args.new_tokens)
            if not ref_ids:
                ref_ids = own_ids
            row["first_tokens_agree"] = f"{_agree(ref_ids, own_ids)}/{len(ref_ids)}"
            row["same_next_token"] = bool(own_ids[:1] == ref_ids[:1])
            if merge == 0:  # the language model alone, on the float32 tokens
                w1, c1, _ = _timed(partial(_answer, m, ref_tokens, 1))
                wk, ck, ids = _timed(partial(_answer, m, ref_tokens, args.new_tokens))
                steps = max(1, len(ids) - 1)
                last = m.forward_logits(ref_tokens, QUESTION)[-1]
                if ref_last is None:
                    ref_last = last
                row["llm"] = {
                    "prompt_tokens": int(m.build_inputs(ref_tokens, QUESTION).input_ids.shape[0]),
                    "prefill_wall_s": w1,
                    "prefill_cpu_s": c1,
                    "decode_wall_s_per_token": max(0.0, wk - w1) / steps,
                    "decode_cpu_s_per_token": max(0.0, ck - c1) / steps,
                    "logit_drift_last": _drift(ref_last[None], last[None]),
                    "same_argmax": bool(last.argmax() == ref_last.argmax()),
                    "top2_gap_float32": float(ref_last.topk(2).values.diff().abs()),
                }
        rows.append(row)
        print(json.dumps(row), flush=True)
        del m, tokens
        gc.collect()
    base = next(r for r in rows if r["config"] == "bfloat16")
    for r in rows:
        r["speedup_wall_vs_bf16"] = base["encode_wall_s_per_frame"] / r["encode_wall_s_per_frame"]
        r["speedup_cpu_vs_bf16"] = base["encode_cpu_s_per_frame"] / r["encode_cpu_s_per_frame"]
    vc = spec.config["vision_config"]
    return {
        "spec": name,
        "vision": f"SigLIP {vc['hidden_size']} wide x {vc['num_hidden_layers']} layers at {spec.frame_px} px",
        "text_layers": args.text_layers if llm else 1,
        "text_layers_published": spec.config["text_config"]["num_hidden_layers"],
        "frames": args.frames,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="smolvlm2-500m,smolvlm2-2.2b")
    ap.add_argument("--llm-model", default="smolvlm2-2.2b")
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--merge-2b", default="4,8,16", help="ToMe r values for the 27-layer 2.2B tower")
    ap.add_argument("--merge-small", default="8,16,32", help="ToMe r values for the 12-layer 500M tower")
    ap.add_argument("--out", default=str(RESULTS / "cpu_speed_options"))
    args = ap.parse_args()

    import torch
    from _machine import cpu_name

    from videopipe.devices import cpu_bf16_native

    started, load_start = datetime.now(timezone.utc), os.getloadavg()
    cpu0 = time.process_time()
    models = [_bench_model(n, args, llm=n == args.llm_model) for n in args.models.split(",")]
    res = {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "bf16_native": cpu_bf16_native(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "quantized_engine": torch.backends.quantized.engine,
            "python": platform.python_version(),
            "load_avg_start": load_start,
            "load_avg_end": os.getloadavg(),
            "started_utc": started.strftime("%Y-%m-%d %H:%M"),
            "minutes": (datetime.now(timezone.utc) - started).total_seconds() / 60,
            "cpu_s_total": time.process_time() - cpu0,
        },
        "question": QUESTION,
        "models": models,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(res))
    print(_markdown(res))


def _markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    la0, la1 = (", ".join(f"{x:.1f}" for x in m[k]) for k in ("load_avg_start", "load_avg_end"))
    lines = [
        "# CPU speed options at real size (`benchmarks/cpu_speed_options.py`)",
        "",
        f"{m['cpu']}, {m['cores']} cores shared with other work, torch {m['torch']} ({m['threads']} threads, "
        f"quantized engine {m['quantized_engine']}), native bf16: {m['bf16_native']}. Run {m['started_utc']} UTC, "
        f"{m['minutes']:.1f} min, {m['cpu_s_total']:.0f} CPU s; load average (1, 5, 15 min) {la0} at the start, "
        f"{la1} at the end: wall times are inflated by the other work, CPU seconds (user+sys of this process) "
        "much less so.",
        "Random weights: times and numerical drift only, answer quality is not measured. Baseline: "
        "bfloat16 (what `--dtype auto` runs on this CPU); drift is against float32.",
        "",
    ]
    for mo in r["models"]:
        lines += [
            f"## `{mo['spec']}`: {mo['vision']}, {mo['frames']} frames",
            "",
            "| config | encode s/frame (wall) | CPU s/frame | speedup vs bf16 (wall / CPU) | tokens in the last "
            "layer | visual tokens: max abs | cos mean | cos min | load s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in mo["rows"]:
            v = row["visual_token_drift"]
            inside = (
                f"{row['tower_tokens_in']} -> {row['tower_tokens_last_layer']}"
                if row["tower_tokens_in"]
                else "all"
            )
            lines.append(
                f"| {row['config']} | {row['encode_wall_s_per_frame']:.3f} | {row['encode_cpu_s_per_frame']:.3f} | "
                f"{row['speedup_wall_vs_bf16']:.2f}x / {row['speedup_cpu_vs_bf16']:.2f}x | {inside} | "
                f"{v['max_abs']:.4g} | {v['cos_mean']:.5f} | {v['cos_min']:.5f} | {row['load_s']:.1f} |"
            )
        llm_rows = [row for row in mo["rows"] if "llm" in row]
        if llm_rows:
            lm = llm_rows[0]["llm"]
            lines += [
                "",
                f"Language model: published width, {mo['text_layers']} of {mo['text_layers_published']} layers "
                f"(time scales with the depth), {lm['prompt_tokens']}-token prompt of the float32 tower's tokens.",
                "",
                "| config | prefill s (wall / CPU) | s per new token (wall / CPU) | last logits: max abs | cos | "
                "same argmax |",
                "|---|---|---|---|---|---|",
            ]
            for row in llm_rows:
                x, lg = row["llm"], row["llm"]["logit_drift_last"]
                lines.append(
                    f"| {row['config']} | {x['prefill_wall_s']:.2f} / {x['prefill_cpu_s']:.2f} | "
                    f"{x['decode_wall_s_per_token']:.3f} / {x['decode_cpu_s_per_token']:.3f} | "
                    f"{lg['max_abs']:.4g} | {lg['cos_mean']:.5f} | {x['same_argmax']} |"
                )
            lines += [
                "",
                "Whole model (its own tower's tokens into its own LLM) against float32: "
                + "; ".join(
                    f"{row['config']}: same next token {row['same_next_token']}, first tokens agree "
                    f"{row['first_tokens_agree']}"
                    for row in mo["rows"]
                    if "first_tokens_agree" in row
                )
                + f". (Random weights give near-flat logits: the float32 gap between the best two next "
                f"tokens is {lm['top2_gap_float32']:.3g}, so greedy agreement is a harsh test here.)",
            ]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
