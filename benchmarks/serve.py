"""Benchmark: `videopipe serve` under 4 concurrent clients vs sequential `videopipe ask`
processes vs `Pipeline.ask` in one process, in the same run, with a tiny random Qwen2.5-VL.

20 requests (4 questions about each of 5 generated videos) with the same pipeline options in
all three modes, each with a fresh token cache:

* ``serve``: one `videopipe serve` process (started once; its start-up is reported apart),
  4 client threads with the official ``openai`` client, 5 requests each; latency per request;
* ``ask-processes``: one `videopipe ask --json` process per request, one after the other
  (what a user without a server runs: every request imports torch and loads the model);
* ``pipeline-in-process``: one ``Pipeline``, ``Pipeline.ask`` per request, one after the other.

Checked: no request lost (20 answers), and the second and later questions about a video skip
decoding (``stats.cached``; counted). Results: ``benchmarks/results/serve.json`` and ``.md``.

    python benchmarks/serve.py            # full run
    python benchmarks/serve.py --quick    # smoke test (8 requests, 2 ask processes)

Single flight (issue 27 item 4), before/after in the same run: ``--before-src DIR`` names a
source tree of videopipe from before the change (``git archive 0a28bd7~1 | tar -x -C DIR``);
``serve`` then runs twice, the server importing videopipe from ``DIR`` and from this tree, each
with both request orders (``spread``: the order above; ``burst``: the 4 questions about a video
one after the other, so 4 clients ask about the same new video at once), and the results go
to ``serve_single_flight.json`` / ``.md``:

    python benchmarks/serve.py --before-src /tmp/videopipe-before
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import cpu_name  # noqa: E402

QUESTIONS = (
    "What happens in the video?",
    "Which colour is the screen?",
    "Is there a cut?",
    "What comes last?",
)
OPTIONS = {"num_frames": 16, "size_px": 112, "max_visual_tokens": 64, "max_new_tokens": 16}


def _flags(cache: Path) -> list[str]:
    return [
        "--device", "cpu",
        "--num-frames", str(OPTIONS["num_frames"]),
        "--size", str(OPTIONS["size_px"]),
        "--max-visual-tokens", str(OPTIONS["max_visual_tokens"]),
        "--max-new-tokens", str(OPTIONS["max_new_tokens"]),
        "--config", str(_config(cache)),
    ]  # fmt: skip


def _config(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    p = cache / "videopipe.toml"
    p.write_text(f'cache_dir = "{cache}"\n')
    return p


def _env(src: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _exe() -> list[str]:
    exe = shutil.which("videopipe")
    return [exe] if exe else [sys.executable, "-m", "videopipe"]


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + sys, its threads and waited-for children) a process used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _summary(latencies: list[float], wall_s: float, n: int, cached: int) -> dict[str, Any]:
    return {
        "requests": n,
        "answered": len(latencies),
        "wall_s": round(wall_s, 2),
        "requests_per_s": round(len(latencies) / wall_s, 3),
        "latency_p50_s": round(_pct(latencies, 0.5), 3),
        "latency_p95_s": round(_pct(latencies, 0.95), 3),
        "cache_hits": cached,
    }


def run_serve(
    model: Path, videos: list[Path], jobs: list[tuple[int, str]], work: Path, clients: int, src: Path = ROOT
) -> dict[str, Any]:
    import httpx
    import openai

    from tests.serve.conftest import free_port

    port = free_port()
    log = open(work / "serve.log", "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*_exe(), "serve", "--model", str(model), "--allow-dir", str(videos[0].parent), "--port", str(port),
         "--max-queue", "32", *_flags(work / f"cache-serve-{time.monotonic_ns()}")],
        env=_env(src), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"serve exited: {(work / 'serve.log').read_text()}")
        time.sleep(0.2)
    start_s = time.perf_counter() - t0
    client = openai.OpenAI(base_url=url + "/v1", api_key="-", max_retries=0, timeout=600)

    def one(job: tuple[int, str]) -> tuple[float, dict[str, Any]]:
        v, q = job
        t = time.perf_counter()
        r = client.chat.completions.create(
            model=str(model),
            messages=[{"role": "user", "content": [
                {"type": "video_url", "video_url": {"url": videos[v].as_uri()}}, {"type": "text", "text": q}]}],
        )  # fmt: skip
        return time.perf_counter() - t, r.model_extra["videopipe"]

    try:
        t1 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, jobs))
        wall = time.perf_counter() - t1
        health = httpx.get(url + "/health").json()
        cpu_s = _cpu_s(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    lat = [r[0] for r in results]
    cached = sum(bool(r[1]["stats"]["cached"]) for r in results)
    out = _summary(lat, wall, len(jobs), cached)
    out.update(
        start_up_s=round(start_s, 2),
        clients=clients,
        decoded_requests=sum(r[1]["stats"]["frames_decoded"] > 0 for r in results),
        server_counters=health["counters"],
        server_cpu_s=cpu_s,
        texts=[r[1]["text"] for r in results],
    )
    return out


def run_ask_processes(
    model: Path, videos: list[Path], jobs: list[tuple[int, str]], work: Path
) -> dict[str, Any]:
    lat, texts, cached = [], [], 0
    t0 = time.perf_counter()
    for v, q in jobs:
        t = time.perf_counter()
        p = subprocess.run(
            [*_exe(), "ask", str(videos[v]), q, "--model", str(model), "--json", *_flags(work / "cache-ask")],
            env=_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if p.returncode != 0:
            raise SystemExit(p.stderr)
        lat.append(time.perf_counter() - t)
        ans = json.loads(p.stdout)
        texts.append(ans["text"])
        cached += bool(ans["stats"]["cached"])
    out = _summary(lat, time.perf_counter() - t0, len(jobs), cached)
    out["texts"] = texts
    return out


def run_in_process(
    model: Path, videos: list[Path], jobs: list[tuple[int, str]], work: Path
) -> dict[str, Any]:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    t = time.perf_counter()
    cfg = PipelineConfig(model=str(model), device="cpu", cache_dir=str(work / "cache-pipe"), **OPTIONS)
    pipe = Pipeline(config=cfg)
    load_s = time.perf_counter() - t
    lat, texts, cached = [], [], 0
    t0 = time.perf_counter()
    for v, q in jobs:
        t = time.perf_counter()
        ans = pipe.ask(videos[v], q)
        lat.append(time.perf_counter() - t)
        texts.append(ans.text)
        cached += bool(ans.stats.cached)
    out = _summary(lat, time.perf_counter() - t0, len(jobs), cached)
    out.update(load_s=round(load_s, 2), texts=texts)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--videos", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--before-src", type=Path, default=None, help="videopipe before single flight")
    args = ap.parse_args()

    from videopipe.testing.tiny_models import build_tiny_model
    from videopipe.testing.videos import make_video, scenes_video

    n_videos = 2 if args.quick else args.videos
    work = Path(tempfile.mkdtemp(prefix="videopipe-bench-serve-"))
    os.environ.setdefault("VIDEOPIPE_CACHE", str(work / "gen"))
    try:
        model = build_tiny_model("qwen2_5_vl", work / "tiny-qwen2.5-vl")
        folder = work / "videos"
        folder.mkdir()
        colors = ("red", "green", "blue", "yellow", "magenta", "cyan")
        videos = []
        for i in range(n_videos):
            spec = scenes_video(
                (60, 60, 60, 60), needle=(i % 4, colors[i % len(colors)]), width=320, height=240
            )
            videos.append(folder / f"v{i}.mp4")
            shutil.copy(make_video(spec), videos[-1])
        # request k asks question k // videos about video k % videos: every video early, then again
        jobs = [(k % n_videos, QUESTIONS[k // n_videos]) for k in range(4 * n_videos)]
        if args.before_src is not None:
            burst = [(k // 4, QUESTIONS[k % 4]) for k in range(4 * n_videos)]
            flights = {}
            for order, js in (("spread", jobs), ("burst", burst)):
                for label, src in (("before", args.before_src.resolve()), ("single-flight", ROOT)):
                    flights[f"{order} {label}"] = run_serve(model, videos, js, work, args.clients, src)
            return _single_flight_report(flights, args, n_videos)
        results = {"serve": run_serve(model, videos, jobs, work, args.clients)}
        ask_jobs = jobs[:2] if args.quick else jobs
        results["ask-processes"] = run_ask_processes(model, videos, ask_jobs, work)
        results["pipeline-in-process"] = run_in_process(model, videos, jobs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    same = results["serve"]["texts"] == results["pipeline-in-process"]["texts"]
    base = results["ask-processes"]["requests_per_s"]
    for r in results.values():
        r["throughput_vs_ask_processes"] = round(r["requests_per_s"] / base, 2)
        r.pop("texts")
    meta = {
        "requests": len(jobs),
        "videos": f"{n_videos} generated, 9.6 s, 320x240, 25 fps, H.264; 4 questions each",
        "model": "tiny random Qwen2.5-VL (videopipe.testing.tiny_models)",
        "options": OPTIONS,
        "clients": args.clients,
        "serve_answers_equal_pipeline_ask": same,
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_end": round(os.getloadavg()[0], 2),
        "note": "the cores were shared with other jobs; serve's wall time excludes its start-up (start_up_s)",
        "quick": args.quick,
    }
    table = [
        "| mode | answered | wall s | requests/s | vs ask processes | p50 latency s | p95 latency s | cache hits |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {k} | {v['answered']}/{v['requests']} | {v['wall_s']:.1f} | {v['requests_per_s']:.3f} "
            f"| {v['throughput_vs_ask_processes']:.2f}x | {v['latency_p50_s']:.2f} | {v['latency_p95_s']:.2f} "
            f"| {v['cache_hits']} |"
            for k, v in results.items()
        ),
        "",
        f"serve: started in {results['serve']['start_up_s']:.1f} s (imports + model load, once); "
        f"{results['serve']['decoded_requests']} of {len(jobs)} requests decoded their video, the rest read "
        "the token cache. Latency under 4 concurrent clients includes waiting for the one model worker.",
    ]
    title = "# serve: one server and 4 clients vs `videopipe ask` processes vs `Pipeline.ask`"
    _write(args, "serve", title, meta, results, table)


def _write(
    args: Any, name: str, title: str, meta: dict[str, Any], results: dict[str, Any], table: list[str]
) -> None:
    """Print the report; unless ``--quick``, write ``NAME.json`` and ``NAME.md`` (``table``
    under the title and the meta lines)."""
    report = {"meta": meta, "results": results}
    print(json.dumps(report, indent=2))
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [title, "", *(f"- {k}: {v}" for k, v in meta.items()), "", *table, ""]
    (args.out / f"{name}.md").write_text("\n".join(lines))


def _single_flight_report(flights: dict[str, dict[str, Any]], args: Any, n_videos: int) -> None:
    """``serve_single_flight.json`` / ``.md``: the server before and after single flight."""
    for r in flights.values():
        r.pop("texts")
    meta = {
        "requests": 4 * n_videos,
        "videos": f"{n_videos} generated, 9.6 s, 320x240, 25 fps, H.264; 4 questions each",
        "model": "tiny random Qwen2.5-VL (videopipe.testing.tiny_models)",
        "options": OPTIONS,
        "clients": args.clients,
        "before": "videopipe at 0a28bd7~1 (no single flight), imported by the same executable",
        "orders": "spread: question k//videos about video k%videos; burst: the 4 questions of a video in a row",
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_end": round(os.getloadavg()[0], 2),
        "note": "the cores were shared with other jobs: compare server CPU seconds as well as wall times",
    }
    table = [
        "| order / server | answered | wall s | requests/s | p50 s | p95 s | videos decoded | server CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {k} | {v['answered']}/{v['requests']} | {v['wall_s']:.1f} | {v['requests_per_s']:.3f} "
            f"| {v['latency_p50_s']:.2f} | {v['latency_p95_s']:.2f} | {v['decoded_requests']} "
            f"| {v['server_cpu_s']} |"
            for k, v in flights.items()
        ),
        "",
        "videos decoded: requests whose answer decoded frames (the rest read the token cache); "
        f"{n_videos} is the least possible.",
    ]
    title = "# serve with 4 clients: before and after single-flight decoding"
    _write(args, "serve_single_flight", title, meta, flights, table)


if __name__ == "__main__":
    main()
