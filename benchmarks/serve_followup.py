"""Benchmark: a conversation's follow-up turns through `videopipe serve` with and without prefix
caching (issue 27 item 1: a follow-up costs only its new text), in the same run.

Two `videopipe serve` processes with the same model and options run side by side, one with
``--kv-cache-mb 0`` (every prompt prefilled whole: the baseline) and one with the default KV
budget. Each gets the same conversations through the official ``openai`` client (streamed, with
``include_usage``): per video, a system message and three user turns, each sent with the
whole conversation so far. The two servers take turns request by request (the first one
alternates), so both see the same machine load. Each server has its own fresh token cache:
turn 1 decodes and encodes the video in both; turns 2 and 3 read its tokens from the cache in
both, so what differs is the prefill.

Per request: wall (client side), time to the first streamed piece (mostly the prefill), the
server's CPU seconds (user + sys of the server process, read from /proc before and after: not
inflated by the load), ``usage.prompt_tokens`` and ``prompt_tokens_details.cached_tokens``. The
answers of the two servers must be equal (greedy; checked): in float32 (the default here); in
bfloat16 the prefill of the new rows only rounds differently from the whole prefill's, and the
random weights' near-ties can pick another first token (``--dtype bfloat16``: the run in
``serve_followup-bfloat16.json``). Model: SmolVLM2-256M at its
published size (random bf16 weights, ``videopipe.testing.real_size``), built once into the
cache dir. Results: ``benchmarks/results/serve_followup.json`` and ``.md``.

    flock /work/bench.lock nice -n 0 python3 benchmarks/serve_followup.py
    nice -n 19 python3 benchmarks/serve_followup.py --quick   # tiny random Qwen2.5-VL, 1 video
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import cpu_name  # noqa: E402

SYSTEM = "You are a careful video analyst. Answer in one short sentence."
TURNS = (
    "What happens in the video?",
    "Which colour appears after the cut?",
    "Summarize what you said so far.",
)
OPTIONS = {"num_frames": 8, "max_visual_tokens": 512, "max_new_tokens": 16, "dtype": "float32"}
MODES = {"no reuse (--kv-cache-mb 0)": "0", "prefix reuse (--kv-cache-mb 512)": "512"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _exe() -> list[str]:
    return [sys.executable, "-m", "videopipe"]


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + sys, all threads) the process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One `videopipe serve` subprocess on a free port, ready when constructed."""

    def __init__(self, model: Path, folder: Path, kv_mb: str, work: Path) -> None:
        import httpx
        import openai

        from tests.serve.conftest import free_port

        port = free_port()
        cache = work / f"cache-kv{kv_mb}"
        cache.mkdir(parents=True)
        (cache / "videopipe.toml").write_text(f'cache_dir = "{cache}"\n')
        self.log = work / f"serve-kv{kv_mb}.log"
        flags = [
            "--device", "cpu", "--num-frames", str(OPTIONS["num_frames"]),
            "--max-visual-tokens", str(OPTIONS["max_visual_tokens"]),
            "--max-new-tokens", str(OPTIONS["max_new_tokens"]), "--dtype", str(OPTIONS["dtype"]),
            "--config", str(cache / "videopipe.toml"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            [*_exe(), "serve", "--model", str(model), "--allow-dir", str(folder), "--port", str(port),
             "--kv-cache-mb", kv_mb, *flags],
            env=_env(), stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited: {self.log.read_text()}")
            time.sleep(0.3)
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key="-", max_retries=0, timeout=1800)
        self.model = str(model)

    def ask(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        cpu0, t0 = process_cpu_s(self.proc.pid), time.perf_counter()
        first, pieces, usage = None, [], None
        stream = self.client.chat.completions.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for c in chunk.choices:
                if c.delta.content:
                    first = first if first is not None else time.perf_counter() - t0
                    pieces.append(c.delta.content)
        wall = time.perf_counter() - t0
        assert usage is not None
        return {
            "wall_s": round(wall, 3),
            "first_piece_s": None if first is None else round(first, 3),
            "server_cpu_s": round(process_cpu_s(self.proc.pid) - cpu0, 2),
            "prompt_tokens": usage.prompt_tokens,
            "cached_tokens": usage.prompt_tokens_details.cached_tokens,
            "text": "".join(pieces),
        }

    def health(self) -> dict[str, Any]:
        import httpx

        return dict(httpx.get(self.url + "/health", timeout=10).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def run(model: Path, videos: list[Path], work: Path) -> dict[str, Any]:
    servers = {name: Server(model, videos[0].parent, kv, work) for name, kv in MODES.items()}
    rows: list[dict[str, Any]] = []
    history = {name: [{"role": "system", "content": SYSTEM}] for name in servers}
    try:
        for v, video in enumerate(videos):
            for name in servers:
                history[name] = [{"role": "system", "content": SYSTEM}]
            for t, question in enumerate(TURNS):
                order = list(servers) if (v + t) % 2 == 0 else list(servers)[::-1]
                for name in order:
                    part: Any = question
                    if t == 0:
                        part = [{"type": "video_url", "video_url": {"url": video.as_uri()}},
                                {"type": "text", "text": question}]  # fmt: skip
                    history[name].append({"role": "user", "content": part})
                    r = servers[name].ask(history[name])
                    history[name].append({"role": "assistant", "content": r["text"]})
                    rows.append({"mode": name, "video": v, "turn": t + 1, **r})
                    print(
                        f"video {v} turn {t + 1} {name}: {r['wall_s']} s, cached {r['cached_tokens']}",
                        flush=True,
                    )
        health = {name: s.health() for name, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()
    return {"rows": rows, "health": health}


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for turn in sorted({r["turn"] for r in rows}):
        for mode in MODES:
            rs = [r for r in rows if r["turn"] == turn and r["mode"] == mode]
            out.append({
                "turn": turn, "mode": mode, "requests": len(rs),
                "prompt_tokens": round(statistics.mean(r["prompt_tokens"] for r in rs), 1),
                "cached_tokens": round(statistics.mean(r["cached_tokens"] for r in rs), 1),
                "wall_s_median": round(statistics.median(r["wall_s"] for r in rs), 3),
                "first_piece_s_median": round(statistics.median(r["first_piece_s"] or 0 for r in rs), 3),
                "server_cpu_s_median": round(statistics.median(r["server_cpu_s"] for r in rs), 2),
            })  # fmt: skip
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Follow-up turns with and without prefix caching (`benchmarks/serve_followup.py`)",
        "",
        f"Model: {result['model']}; {result['videos']} videos x {len(TURNS)} turns per mode; options "
        f"{json.dumps(result['options'])}; machine: {m['cpu']} ({m['cores']} cores), load average "
        f"{result['load_avg_1m'][0]} at the start, {result['load_avg_1m'][1]} at the end (shared).",
        "Both servers ran side by side and took turns request by request. Server CPU s is the server "
        "process's user+sys time for the request (not inflated by the load).",
        "",
        "| turn | mode | prompt tokens | cached tokens | first piece s (median) | wall s (median) | server CPU s (median) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in result["summary"]:
        lines.append(
            f"| {s['turn']} | {s['mode']} | {s['prompt_tokens']} | {s['cached_tokens']} | "
            f"{s['first_piece_s_median']} | {s['wall_s_median']} | {s['server_cpu_s_median']} |"
        )
    pairs: dict[tuple[int, int], list[str]] = {}
    for r in result["rows"]:
        pairs.setdefault((r["video"], r["turn"]), []).append(r["text"])
    same = sum(len(set(t)) == 1 for t in pairs.values())
    lines += ["", f"Answers equal in both modes (greedy): {same} of {len(pairs)} requests."]
    if same < len(pairs):
        lines.append(
            "Where they differ, the first token differs: in bfloat16 the prefill of the new rows only "
            "rounds differently from the whole prefill, and the random weights' near-ties pick another "
            "token (a later turn then has another history). In float32 the answers are equal "
            "(tests/models/test_prefix_reuse.py checks token equality for every family)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny random Qwen2.5-VL, one video (smoke test)")
    ap.add_argument("--model", default="smolvlm2-256m", help="a videopipe.testing.real_size model name")
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument(
        "--dtype", default="float32", help="the servers' --dtype (results of another: NAME-DTYPE.json)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    OPTIONS["dtype"] = args.dtype
    from videopipe.testing.videos import make_video, scenes_video

    work = Path(tempfile.mkdtemp(prefix="videopipe-followup-"))
    try:
        if args.quick:
            from videopipe.testing.tiny_models import build_tiny_model

            model, n, name = build_tiny_model("qwen2_5_vl", work / "tiny"), 1, "tiny random Qwen2.5-VL"
        else:
            from videopipe.testing.real_size import build_real_model

            model, n, name = (
                build_real_model(args.model),
                args.videos,
                f"{args.model} (random weights, real size)",
            )
        folder = work / "videos"
        folder.mkdir()
        colours = ("red", "green", "blue", "yellow")
        videos = []
        for i in range(n):
            spec = scenes_video((40, 40, 40), needle=(1, colours[i % 4]), width=320, height=240)
            videos.append(folder / f"v{i}.mp4")
            shutil.copy(make_video(spec), videos[-1])
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        got = run(model, videos, work)
        rows = got["rows"]
        modes = list(MODES)
        texts = {m: [r["text"] for r in rows if r["mode"] == m] for m in modes}
        result = {
            "model": name,
            "videos": n,
            "options": OPTIONS,
            "wall_s": round(time.perf_counter() - t0, 1),
            "load_avg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
            "answers_equal": texts[modes[0]] == texts[modes[1]],
            "summary": summarize(rows),
            "rows": rows,
            "server_counters": {m: h["counters"] for m, h in got["health"].items()},
            "kv_cache": {m: h["kv_cache"] for m, h in got["health"].items()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stem = "serve_followup" + ("" if args.dtype == "float32" else f"-{args.dtype}")
    stem += "-quick" if args.quick else ""
    out = args.out if not args.quick else Path(tempfile.gettempdir())
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
