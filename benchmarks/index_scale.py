"""Indexing a folder on several processes: serial vs ``--workers 2`` vs Ray with 2 local actors.

    python benchmarks/index_scale.py                   # the run (about 10 minutes on 2 loaded cores)
    python benchmarks/index_scale.py --variant screen  # talks with slides, --text speech,screen
    python benchmarks/index_scale.py --quick           # smoke test (2 short talks, nothing written)

The folder: 8 generated talks with speech (espeak sentences over low noise, 3 topics each,
``--talk-s`` seconds long, no subtitles), indexed with ``--text speech --embedder text`` (the
bundled Whisper tiny.en, MiniLM) by the installed CLI in a fresh process, a fresh index folder
and a fresh ``VIDEOPIPE_CACHE`` each time (so speech recognition really runs). ``--variant
screen``: 8 generated lectures (:func:`~videopipe.testing.lecture.make_lecture`, 3 topics,
480x270 at 2 fps, slides drawn by ffmpeg ``drawtext`` for half of each talk) indexed with
``--text speech,screen`` (speech recognition and rapidocr on the slides). Cases, in one run:

* ``serial``     ``--workers 1`` (this process does every video; the baseline)
* ``workers2``   ``--workers 2`` (two local worker processes, one writer)
* ``ray2``       ``--executor ray --workers 2 --address ...``: 2 actors on a local Ray head
                 (``ray start --head --num-cpus=2``) started before the case, as a cluster is
                 (its start is not timed; its processes are counted in CPU and RSS)
* ``ceiling``    the machine's own limit for two processes: two serial runs that share nothing
                 (each indexes half the folder into its own index and cache) at once, against
                 one of them alone. ``2 x alone / pair`` is the most any two-process split of
                 this work can gain on this machine.

Per case: wall seconds, CPU seconds (user + system of every process of the run's tree, sampled
every 0.2 s from /proc: a process's last 0.2 s may be missed),
throughput (hours of media per hour), the report's per-stage seconds (summed over workers),
peak RSS of the run's process tree (sampled every 0.2 s from /proc) and the load average.
The machine is shared (other jobs run beside it): compare cases within one run only.

Writes benchmarks/results/index_scale.{json,md} (``--variant screen``: index_scale_screen.*).

Priority: Linux schedules by *autogroup* (one per session) before nice values, so a benchmark at
nice 0 beside jobs at nice 19 in other sessions still gets only its session's share of the cores
-- and a local Ray's agents then start later than the raylet's hard-coded 15 s
(ray-project/ray#65983). The committed runs were started in their own session with the
autogroup's nice raised (recorded in the results as ``autogroup``)::

    setsid bash -c 'echo -10 > /proc/self/autogroup; flock /work/bench.lock python3 benchmarks/index_scale.py'
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
#: ``--variant`` -> the ``--text`` sources it indexes
VARIANTS = {"speech": "speech", "screen": "speech,screen"}


def make_talks(folder: Path, n: int, talk_s: float) -> list[Path]:
    """``n`` talks of ``talk_s`` seconds, 3 topics of :data:`TALK_TOPICS` each (copied into
    ``folder`` from the generator's cache)."""
    from videopipe.testing.speech import TALK_TOPICS, make_speech_video

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        topics = [TALK_TOPICS[(3 * i + j) % len(TALK_TOPICS)] for j in range(3)]
        step = talk_s / 3
        items = []
        for j, (topic, sentences) in enumerate(topics):
            t = j * step + 2.0
            for s in sentences:
                if t + 0.07 * len(s) + 1 < (j + 1) * step:
                    items.append((round(t, 2), s, topic))
                t += 3.0 + 0.07 * len(s)
        src, _ = make_speech_video(items, duration_s=talk_s, noise=0.003)
        dst = folder / f"talk{i:02d}.mp4"
        shutil.copy(src, dst)
        out.append(dst)
    return out


def make_lectures(folder: Path, n: int, talk_s: float) -> list[Path]:
    """``n`` lectures of ``talk_s`` seconds in 3 topics, slides for half of each (copied into
    ``folder`` from the generator's cache)."""
    from videopipe.testing.lecture import make_lecture

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        third = talk_s / 3
        src, _ = make_lecture(
            i, duration_s=talk_s, n_topics=3, min_topic_s=0.6 * third, max_topic_s=1.5 * third
        )
        dst = folder / f"lecture{i:02d}.mp4"
        shutil.copy(src, dst)
        out.append(dst)
    return out


def _autogroup() -> str:
    """This process's scheduling autogroup and its nice ("" where the kernel has none)."""
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return ""


def _tree(root_pid: int, marker: str | None = None) -> dict[int, tuple[int, int]]:
    """``pid -> (resident pages, CPU ticks user + system)`` of ``root_pid`` and its descendants,
    and of the processes whose command line holds ``marker`` (the Ray session's temp dir) and
    theirs."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[int, int]] = {}
    roots = [root_pid]
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ppid, ticks, pages = int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21])
            if marker and marker.encode() in (d / "cmdline").read_bytes():
                roots.append(int(d.name))
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
        info[int(d.name)] = (pages, ticks)
    out: dict[int, tuple[int, int]] = {}
    todo = roots
    while todo:
        p = todo.pop()
        if p in info:
            out[p] = info[p]
        todo.extend(children.get(p, []))
    return out


def _env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VIDEOPIPE_CACHE": str(cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # a loaded machine starts Ray's raylet and agents slower than Ray's defaults wait
        "RAY_raylet_start_wait_time_s": "180",
        "RAY_agent_register_timeout_ms": "180000",
        # `ray start` turns token authentication on when ~/.ray/auth_token exists, and a driver
        # given an explicit --address then needs it on too (Ray >= 2.5x)
        **({"RAY_AUTH_MODE": "token"} if (Path.home() / ".ray" / "auth_token").is_file() else {}),
    }


def start_ray(temp_dir: Path, cache: Path, tries: int = 3) -> tuple[str | None, dict]:
    """A local Ray head with 2 CPUs (``ray start``, retried: on the loaded machine its start
    times out now and then); its address (or None) and how the start went."""
    ray = shutil.which("ray") or "ray"
    t0 = time.perf_counter()
    for k in range(tries):
        r = subprocess.run(
            [
                ray,
                "start",
                "--head",
                "--num-cpus=2",
                "--include-dashboard=false",
                "--disable-usage-stats",
                f"--temp-dir={temp_dir}",
                "--port=0",
            ],
            capture_output=True,
            text=True,
            env=_env(cache),
            timeout=400,
        )
        started = {"tries": k + 1, "start_s": round(time.perf_counter() - t0, 1)}
        if r.returncode == 0:
            found = re.search(
                r"ray start --address='?([0-9.]+:[0-9]+)", r.stdout
            )  # the text has colour codes
            return (found.group(1) if found else "auto"), started
        stop_ray(str(temp_dir))
    return None, {"tries": tries, "start_s": round(time.perf_counter() - t0, 1)}


def stop_ray(marker: str) -> None:
    """Stop this run's Ray processes only (``ray stop`` would stop every Ray on the machine)."""
    import signal

    pids = list(_tree(-1, marker))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(3)


def run_index(
    folders: list[Path],
    index_dir: Path,
    cache: Path,
    extra: list[str],
    marker: str | None = None,
    *,
    text: str = "speech",
) -> dict:
    """One ``videopipe index`` process (fresh cache); its report, wall/CPU seconds, peak RSS."""
    env = _env(cache)
    cmd = [sys.executable, "-m", "videopipe", "index", *map(str, folders), "--index", str(index_dir)]
    cmd += ["--text", text, "--embedder", "text", "--json", "--quiet", *extra]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0.0]
    ticks: dict[int, int] = {}  # pid -> its last seen CPU ticks (workers are not reaped by us)

    def sample() -> None:
        page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        while proc.poll() is None:
            tree = _tree(proc.pid, marker)
            peak[0] = max(peak[0], sum(p for p, _ in tree.values()) * page_mb)
            for pid, (_, t) in tree.items():
                ticks[pid] = max(ticks.get(pid, 0), t)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    report = json.loads(out)
    return {
        "wall_s": round(wall, 2),
        # the driver's own (reaped), or every process of the tree as last sampled: the larger
        "cpu_s": round(
            max(
                (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                sum(ticks.values()) / os.sysconf("SC_CLK_TCK"),
            ),
            2,
        ),
        "peak_rss_mb": round(peak[0], 1),
        "report": report,
    }


def _summary(name: str, run: dict, media_s: float) -> dict:
    rep = run["report"]
    return {
        "case": name,
        "wall_s": run["wall_s"],
        "cpu_s": run["cpu_s"],
        "index_s": round(rep["seconds"], 2),
        "media_s": round(rep["media_s"], 1),
        "media_hours_per_hour": round(media_s / run["wall_s"], 1),
        "peak_rss_mb": run["peak_rss_mb"],
        "stage_s": rep["stage_s"],
        "workers": rep["workers"],
        "executor": rep["executor"],
        "clips": rep["total_clips"],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 short talks, nothing written")
    ap.add_argument("--talks", type=int, default=8)
    ap.add_argument("--talk-s", type=float, default=150.0)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument(
        "--variant",
        choices=VARIANTS,
        default="speech",
        help="speech: talks, --text speech; screen: lectures with slides, --text speech,screen",
    )
    args = ap.parse_args()
    n, talk_s = (2, 60.0) if args.quick else (args.talks, args.talk_s)
    text = VARIANTS[args.variant]
    load_start = [round(x, 2) for x in os.getloadavg()]
    command = "python benchmarks/index_scale.py" + (" --quick" if args.quick else "")
    results: dict = {
        "command": command + (f" --variant {args.variant}" if args.variant != "speech" else ""),
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_start": load_start,
            "autogroup": _autogroup(),
            "note": "shared machine: six other jobs ran beside this benchmark",
        },
        "variant": args.variant,
        "text": text,
        "talks": n,
        "talk_s": talk_s,
        "cases": [],
    }
    with tempfile.TemporaryDirectory(prefix="index-scale-") as tmp:
        t = Path(tmp)
        make = make_lectures if args.variant == "screen" else make_talks
        talks = make(t / "talks", n, talk_s)
        media_s = n * talk_s
        halves = [t / "half0", t / "half1"]
        for k, h in enumerate(halves):
            h.mkdir()
            for v in talks[k::2]:
                os.link(v, h / v.name)
        cases = [("serial", ["--workers", "1"]), ("workers2", ["--workers", "2"])]
        if not args.no_ray:
            cases.append(("ray2", ["--executor", "ray", "--workers", "2"]))
        for name, extra in cases:
            print(f"[{name}] ...", flush=True)
            marker = None
            if name == "ray2":  # a running local Ray (as a cluster would be): its start is not timed
                marker = str(t / "ray")
                address, ray_start = start_ray(t / "ray", t / f"cache-{name}")
                if address is not None:
                    extra = [*extra, "--address", address]
                else:  # the executor's own local Ray (ray.init in the driver, no dashboard): timed
                    ray_start["fallback"] = (
                        "ray start failed; the driver started a local Ray (its start is timed)"
                    )
                    marker = None
            try:
                run = run_index(
                    [t / "talks"], t / f"idx-{name}", t / f"cache-{name}", extra, marker, text=text
                )
            except RuntimeError as e:
                results["cases"].append({"case": name, "error": str(e)[-600:]})
                print(f"[{name}] failed: {str(e)[-300:]}", flush=True)
                continue
            finally:
                if marker:
                    stop_ray(marker)
            results["cases"].append(_summary(name, run, media_s))
            if name == "ray2":
                results["cases"][-1]["ray_start"] = ray_start
            print(f"[{name}] {results['cases'][-1]}", flush=True)
        # the ceiling: one half alone, then both halves at once in two processes
        print("[ceiling] ...", flush=True)
        alone = run_index([halves[0]], t / "idx-alone", t / "cache-alone", ["--workers", "1"], text=text)
        pair: list[dict] = [{}, {}]
        t0 = time.perf_counter()

        def one(k: int) -> None:
            pair[k] = run_index(
                [halves[k]], t / f"idx-pair{k}", t / f"cache-pair{k}", ["--workers", "1"], text=text
            )

        threads = [threading.Thread(target=one, args=(k,)) for k in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        pair_wall = time.perf_counter() - t0
        results["ceiling"] = {
            "one_alone_s": alone["wall_s"],
            "two_at_once_s": round(pair_wall, 2),
            "two_process_scaling": round(2 * alone["wall_s"] / pair_wall, 2),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        }
        print(f"[ceiling] {results['ceiling']}", flush=True)
    results["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    by = {c["case"]: c for c in results["cases"] if "error" not in c}
    if "serial" in by:
        for c in by.values():
            c["speedup_vs_serial"] = round(by["serial"]["wall_s"] / c["wall_s"], 2)
    print(json.dumps(results, indent=1))
    if not args.quick:
        OUT.mkdir(parents=True, exist_ok=True)
        stem = "index_scale" if args.variant == "speech" else f"index_scale_{args.variant}"
        (OUT / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
        (OUT / f"{stem}.md").write_text(markdown(results))


def markdown(r: dict) -> str:
    m = r["machine"]
    media_min = r["talks"] * r["talk_s"] / 60
    text = r.get("text", "speech")
    what = (
        "generated lectures with speech and slides (drawtext, half of each talk)"
        if "screen" in text
        else "generated talks with speech"
    )
    models = "Whisper tiny.en int8 with VAD, " + ("rapidocr, " if "screen" in text else "") + "MiniLM"
    group = f", scheduling autogroup `{m['autogroup']}`" if m.get("autogroup") else ""
    lines = [
        "# Indexing on several processes (benchmarks/index_scale.py)",
        "",
        f"`{r['command']}` on {m['cpu']} ({m['cores']} cores), Python {m['python']}{group}. "
        f"**{m['note']}**: load average {m['load_avg_start'][0]} at the start, {m['load_avg_end'][0]} at the end "
        "(1-minute). Compare cases within this run only; CPU seconds (user + system) are load-independent.",
        "",
        f"Folder: {r['talks']} {what}, {r['talk_s']:.0f} s each ({media_min:.0f} min of media), "
        f"indexed with `--text {text} --embedder text` ({models}), each case in a "
        "fresh process, index folder and cache.",
        "",
        "| case | executor | wall s | CPU s | h of media / h | speed-up vs serial | peak RSS MB (all processes) "
        "| load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in r["cases"]:
        if "error" in c:
            lines.append(f"| {c['case']} | failed: {c['error'][-200:]} |  |  |  |  |  |  |")
            continue
        lines.append(
            f"| {c['case']} | {c['executor']} | {c['wall_s']} | {c['cpu_s']} | {c['media_hours_per_hour']} "
            f"| {c.get('speedup_vs_serial', '')} | {c['peak_rss_mb']} | {c['load_avg'][0]} |"
        )
    for c in r["cases"]:
        if "ray_start" in c:
            k = c["ray_start"]
            lines += [
                "",
                f"Ray (`ray start --head --num-cpus=2`, not timed in the case): {k['tries']} tries, {k['start_s']} s"
                + (f"; {k['fallback']}." if "fallback" in k else "."),
            ]
    stages = sorted({k for c in r["cases"] if "stage_s" in c for k in c["stage_s"]})
    lines += [
        "",
        "Seconds per stage (the report's `stage_s`: per-video stages -- `hash` included -- summed over "
        "workers; `scan`, `write`, `index_build`, `gc` are the driver's):",
        "",
        "| case | " + " | ".join(stages) + " |",
        "|---|" + "---|" * len(stages),
    ]
    for c in r["cases"]:
        if "stage_s" in c:
            lines.append(
                f"| {c['case']} | " + " | ".join(f"{c['stage_s'].get(s, 0):.2f}" for s in stages) + " |"
            )
    if "ceiling" in r:
        k = r["ceiling"]
        lines += [
            "",
            "## The machine's ceiling for two processes",
            "",
            f"Half the folder indexed by one serial process alone: {k['one_alone_s']} s; both halves at once by two "
            f"serial processes that share nothing: {k['two_at_once_s']} s. Two processes on this machine do "
            f"**{k['two_process_scaling']}x** the work of one in the same time: that is the most `--workers 2` "
            "(or Ray with 2 actors) can gain here.",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
