"""The first question about a 1-hour 720p video, at real model sizes, on this machine: the whole
``videopipe ask`` process against the model-card way, measured in one run.

Checkpoints: ``videopipe.testing.real_size.build_real_model`` (the published architectures of
SmolVLM2, Qwen2.5-VL, Qwen3-VL and LLaVA-OneVision, random bf16 weights, the real processor
settings and vocabulary; compute and memory depend on the architecture, not on the weight
values), built once into the cache dir.
Video: a generated 1-hour 1280x720 25 fps H.264 file (``make_long_video``, one minute of
ffmpeg's ``testsrc2`` repeated by stream copy: the stream structure and decode cost of an
hour-long file, generated in seconds), cached.

For each checkpoint, each row one whole process (``python -m videopipe ask VIDEO Q --model DIR
--json`` with every other option at its default; the weights are already on disk):

- ``--num-frames`` 16 / 32 / 64 and the default (no flag), each with a fresh cache dir: the
  first question; then the same question again in the same cache dir (token cache hit);
- the model-card way: ``AutoProcessor.apply_chat_template`` on the video path with the same
  number of frames (transformers' own video loading and sampling) + ``model.generate`` in the
  model card's dtype (bfloat16), greedy, the same number of new tokens.

Per row: wall, time to first token (process start to the first generated piece: wall minus
the generation after it), each stage's seconds (the CLI's ``--json`` stats), peak RSS and CPU
seconds (user + sys) of the process and its children (``os.wait4``), and the load average.
The machine is shared: CPU seconds are the load-independent number; walls are under load.

    python benchmarks/real_size.py                         # 256M and 500M
    python benchmarks/real_size.py --models smolvlm2-2.2b --frames 16 --card-frames 16
    python benchmarks/real_size.py --models qwen3-vl-2b,llava-ov-0.5b --frames 16 --card-frames 16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
QUESTION = "What happens in this video, and when?"
SECOND = "What colours appear on the screen?"

# the model card's way (the SmolVLM2, Qwen and LLaVA-OneVision model cards: AutoProcessor +
# AutoModelForImageTextToText in bfloat16, apply_chat_template on a {"type": "video", "path": ...}
# message, model.generate), with the frame count of the `ask` it is compared with
_CARD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.generation.streamers import BaseStreamer
path, video, question, frames, new = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
processor = AutoProcessor.from_pretrained(path)
if getattr(processor.video_processor, "fps", None) is not None:  # Qwen's sample at fps 2 unless told
    processor.video_processor.fps = None  # a frame count instead (num_frames and fps exclude each other)
model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.bfloat16)
t_load = time.perf_counter()
messages = [{"role": "user", "content": [{"type": "video", "path": video}, {"type": "text", "text": question}]}]
inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                       return_tensors="pt", processor_kwargs={"num_frames": frames},
                                       ).to(model.device, dtype=torch.bfloat16)
t_prep = time.perf_counter()
class First(BaseStreamer):
    calls, first = 0, None
    def put(self, value):
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter()
    def end(self):
        pass
s = First()
with torch.inference_mode():
    out = model.generate(**inputs, do_sample=False, max_new_tokens=new, min_new_tokens=new, streamer=s)
t_gen = time.perf_counter()
n_new = int(out.shape[1] - inputs["input_ids"].shape[1])
if "video_grid_thw" in inputs:  # Qwen: (t, h, w) patch grids, t frames / temporal_patch_size
    n_frames = int(inputs["video_grid_thw"][:, 0].sum()) * model.config.vision_config.temporal_patch_size
else:  # SmolVLM2 (pixel_values), LLaVA-OneVision (pixel_values_videos): (batch, frames, C, H, W)
    n_frames = int(inputs.get("pixel_values_videos", inputs.get("pixel_values")).shape[1])
print(json.dumps({"seconds": {"import+load": t_load - t0, "decode+preprocess": t_prep - t_load,
    "generate": t_gen - t_prep}, "first_token_s": (s.first or t_gen) - t_prep,
    "prompt_tokens": int(inputs["input_ids"].shape[1]), "frames": n_frames,
    "new_tokens": n_new}))
"""


def _run(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd``; its wall, CPU seconds and peak RSS (itself and its waited-for children)."""
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]}... exited {proc.returncode}: {stderr[-3000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "load_avg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "stdout": stdout,
        "stderr_lines": len(stderr.splitlines()),
        "stderr_tail": stderr.splitlines()[-3:],
    }


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["VIDEOPIPE_CACHE"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def ask(
    model: Path,
    video: Path,
    question: str,
    frames: int | None,
    cache: Path,
    new_tokens: int | None = None,
    flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "videopipe", "ask", str(video), question, "--model", str(model), "--json"]
    cmd += list(flags)
    if frames is not None:
        cmd += ["--num-frames", str(frames)]
    if new_tokens is not None:
        cmd += ["--max-new-tokens", str(new_tokens)]
    r = _run(cmd, _env(cache))
    answer = json.loads(r.pop("stdout"))
    s = answer["stats"]
    gen, first = s["seconds"].get("generate", 0.0), s.get("first_token_s")
    r.update(
        frames=s["frames_selected"],
        visual_tokens=s["tokens_after"],
        cached=s["cached"],
        prompt_tokens=s.get("prompt_tokens"),
        cached_tokens=s.get("cached_tokens"),  # read from the prompt KV cache on disk, not prefilled
        seconds={k: round(v, 2) for k, v in s["seconds"].items()},
        first_token_s=round(r["wall_s"] - (gen - first), 2) if first is not None else None,
        answer_chars=len(answer["text"]),
    )
    return r


def card(
    model: Path, video: Path, question: str, frames: int, new_tokens: int, cache: Path
) -> dict[str, Any]:
    r = _run(
        [sys.executable, "-c", _CARD, str(model), str(video), question, str(frames), str(new_tokens)],
        _env(cache),
    )
    inner = json.loads(r.pop("stdout").strip().splitlines()[-1])
    sec = {k: round(v, 2) for k, v in inner.pop("seconds").items()}
    gen_after_first = sec["generate"] - inner["first_token_s"]
    r.update(inner, seconds=sec, first_token_s=round(r["wall_s"] - gen_after_first, 2))
    return r


def _new_tokens(model: Path) -> int:
    """The answer length ``ask`` generates by default (random weights rarely stop early)."""
    sys.path.insert(0, str(ROOT))
    from videopipe.config import PipelineConfig

    return PipelineConfig().max_new_tokens


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def bench_model(
    name: str,
    video: Path,
    frames: list[int | None],
    card_frames: list[int],
    work: Path,
    *,
    asks: str,
    new_tokens: int | None,
    flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    from videopipe.testing.real_size import REAL_SPECS, build_real_model

    spec = REAL_SPECS[name]
    path = build_real_model(name)
    rows: list[dict[str, Any]] = []
    for n in frames:
        cache = work / f"{name}-{n or 'default'}{'-'.join(('',) + flags)}"
        shutil.rmtree(cache, ignore_errors=True)  # the first question finds no cached tokens
        row: dict[str, Any] = {"num_frames_flag": n}
        if flags:
            row["flags"] = " ".join(flags)
        for key, q in (("first", QUESTION), ("second_question", SECOND), ("same_again", QUESTION)):
            if key == "first" or asks == "all" or (asks == "second" and key == "second_question"):
                row[key] = ask(path, video, q, n, cache, new_tokens, flags)
                row[key]["max_new_tokens_flag"] = new_tokens
                _log(
                    f"{name} frames={n or 'default'} {key}: {row[key]['wall_s']} s wall, {row[key]['cpu_s']} CPU-s"
                )
        rows.append(row)
        _save_partial(name, rows, [])
    cards: list[dict[str, Any]] = []
    card_frames = [] if flags else card_frames  # the model-card way has no speed options
    new = new_tokens or _new_tokens(path)
    for n in card_frames:
        try:
            c = card(path, video, QUESTION, n, new, work / f"{name}-card-{n}")
        except RuntimeError as e:  # kept as a row: the asks above are not lost with it
            _log(f"{name} model-card way frames={n} failed: {str(e)[-300:]}")
            cards.append({"num_frames": n, "error": str(e)[-1000:]})
            continue
        _log(f"{name} model-card way frames={n}: {c['wall_s']} s wall, {c['cpu_s']} CPU-s")
        cards.append({"num_frames": n, **c})
        _save_partial(name, rows, cards)
    return {
        "name": name,
        "hub_id": spec.hub_id,
        "video_mme": spec.video_mme,
        "asks": rows,
        "model_card": cards,
    }


def _merge(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the rows of an earlier invocation it did not measure again (runs of one
    checkpoint may be split over invocations: each row is one whole-process measurement)."""
    if not old:
        return new

    def key(r: dict[str, Any]) -> tuple[Any, str]:
        return r["num_frames_flag"], r.get("flags", "")

    seen = {key(r) for r in new["asks"]}
    asks = [r for r in old["asks"] if key(r) not in seen] + new["asks"]
    seen_cards = {c["num_frames"] for c in new["model_card"]}
    cards = [c for c in old["model_card"] if c["num_frames"] not in seen_cards] + new["model_card"]
    runs = sorted({*str(old.get("run_at", "")).split("; "), new["run_at"]} - {""})
    return {**new, "asks": asks, "model_card": cards, "run_at": "; ".join(runs)}


_PARTIAL: dict[str, Any] = {}


def _save_partial(name: str, rows: list, cards: list) -> None:
    _PARTIAL[name] = {"asks": rows, "model_card": cards}
    from videopipe.config import default_cache_dir

    (default_cache_dir() / "real-size-bench" / f"partial-{name}.json").write_text(
        json.dumps(_PARTIAL, indent=1)
    )


def machine() -> dict[str, Any]:
    from videopipe.devices import cpu_bf16_native

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "bf16_native": cpu_bf16_native(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def _stages(sec: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in sec.items())


def _cell(r: dict[str, Any] | None) -> str:
    if not r:
        return "| | | "
    return f"| {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['peak_rss_mb'] / 1024:.2f} "


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    out = [
        "# The first question about a 1-hour 720p video at real model sizes (`benchmarks/real_size.py`)",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, torch {m['torch']}, native bf16: {m['bf16_native']}. "
        f"Video: generated {result['video']['size']} {result['video']['fps']} fps H.264, "
        f"{result['video']['duration_s'] / 60:.0f} min. Checkpoints: the published architectures (config and "
        "processor files) with random bf16 weights (`videopipe.testing.real_size`; cost depends on the architecture, not the values), "
        "weights already on disk. Every row is one whole process (`python -m videopipe ask VIDEO Q --model DIR "
        "--json`, every other option at its default).",
        "",
        "**The machine may be shared** (the notes below say how each run was held; the 1-minute "
        "load average on 2 cores is given per row): wall seconds are under that load; **CPU seconds (user + sys "
        "of the process and its children) are the load-independent number**, and on 2 otherwise idle cores "
        "the wall is about CPU-s / 2 (plus waits). Time to first token: from the process start to the first "
        "generated piece (wall minus the generation after it). Peak RSS: the process's `ru_maxrss`.",
        "",
    ]
    for name, r in result["models"].items():
        out += [
            f"## {name} (`{r['hub_id']}`, Video-MME {r['video_mme'] or 'not on its model card'}) "
            f"-- {r.get('run_at', '')}",
            "",
            "| --num-frames | frames | visual tokens | first: wall s | TTFT s | CPU-s | peak RSS GB | stages, s (wall) "
            "| load avg | same again: wall s | CPU-s | RSS GB | 2nd question: wall s | CPU-s | RSS GB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in r["asks"]:
            f = row["first"]
            out.append(
                f"| {row['num_frames_flag'] or 'default'}{' ' + row['flags'] if row.get('flags') else ''} | {f['frames']} | {f['visual_tokens']} | {f['wall_s']:.0f} "
                f"| {f['first_token_s']:.0f} | {f['cpu_s']:.0f} | {f['peak_rss_mb'] / 1024:.2f} | {_stages(f['seconds'])} "
                f"| {f['load_avg_1m'][0]:.1f}-{f['load_avg_1m'][1]:.1f} {_cell(row.get('same_again'))}"
                f"{_cell(row.get('second_question'))}|"
            )
        if r["model_card"]:
            by_frames = {row["first"]["frames"]: row["first"] for row in r["asks"] if not row.get("flags")}
            out += [
                "",
                "The model-card way (`AutoProcessor.apply_chat_template` on the video path with `num_frames`, "
                "transformers' own video loading; `model.generate` in bfloat16, the model card's dtype; the same "
                "number of new tokens), against `ask` with the same frames:",
                "",
                "| frames | wall s | TTFT s | CPU-s | peak RSS GB | stages, s | load avg | ask CPU-s | CPU-s ratio "
                "| ask RSS GB | prompt tokens: card / ask |",
                "|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for c in r["model_card"]:
                if "error" in c:
                    out.append(f"| {c['num_frames']} | failed: {c['error'].splitlines()[-1][:200]} |")
                    continue
                a = by_frames.get(c["num_frames"])
                ratio = f"{c['cpu_s'] / a['cpu_s']:.2f}x" if a else ""
                out.append(
                    f"| {c['num_frames']} | {c['wall_s']:.0f} | {c['first_token_s']:.0f} | {c['cpu_s']:.0f} "
                    f"| {c['peak_rss_mb'] / 1024:.2f} | {_stages(c['seconds'])} "
                    f"| {c['load_avg_1m'][0]:.1f}-{c['load_avg_1m'][1]:.1f} | {a['cpu_s'] if a else ''} | {ratio} "
                    f"| {a['peak_rss_mb'] / 1024 if a else 0:.2f} "
                    f"| {c.get('prompt_tokens', '')} / {(a.get('prompt_tokens') if a else None) or ''} |"
                )
        out.append("")
    if result.get("notes"):
        out += ["## Notes", "", *result["notes"], ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smolvlm2-256m,smolvlm2-500m")
    ap.add_argument("--frames", default="16,32,64", help="--num-frames values; 'default': no flag")
    ap.add_argument("--card-frames", default="16,64")
    ap.add_argument(
        "--asks",
        choices=("all", "second", "first"),
        default="all",
        help="which questions per row (first: one)",
    )
    ap.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="answer length (default: ask's; a curve row may cut it)",
    )
    ap.add_argument(
        "--ask-flags",
        default="",
        help="more `ask` options for every row, e.g. '--quantize int8' (the speed options; no model-card rows)",
    )
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--out", default=str(RESULTS / "real_size.json"))
    ap.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.report:
        out_path = Path(args.out)
        out_path.with_suffix(".md").write_text(markdown(json.loads(out_path.read_text())))
        return
    from videopipe.config import default_cache_dir
    from videopipe.testing.videos import make_long_video

    video = make_long_video(args.duration_s, width=1280, height=720, repeat_of_s=60.0)
    work = default_cache_dir() / "real-size-bench"
    frames = [None if x == "default" else int(x) for x in args.frames.split(",") if x]
    card_frames = [int(x) for x in args.card_frames.split(",") if x]
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"models": {}}
    result.update(
        machine=machine(),
        video={"path": video.name, "duration_s": args.duration_s, "size": "1280x720", "fps": 25},
        question=QUESTION,
        second_question=SECOND,
    )
    for name in [m for m in args.models.split(",") if m]:
        _log(f"{name}: start (load average {os.getloadavg()})")
        t = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        got = {
            **bench_model(
                name,
                video,
                frames,
                card_frames,
                work,
                asks=args.asks,
                new_tokens=args.max_new_tokens,
                flags=tuple(args.ask_flags.split()),
            ),
            "run_at": t,
        }
        result["models"][name] = _merge(result["models"].get(name), got)
        out_path.write_text(json.dumps(result, indent=1))
        out_path.with_suffix(".md").write_text(markdown(result))
    _log(f"wrote {out_path}")


if __name__ == "__main__":
    main()
