"""Codec-context thread settings per codec and access pattern (issue #16: "chosen by measurement
per codec and access pattern, not fixed").

For H.264, HEVC, VP9 and AV1 files made alike (``make_long_video(600, width=1920, height=1080,
repeat_of_s=30, codec=...)``: ``testsrc2``, 25 fps, GOP 250, no B-frames, 10 minutes), section (c)
of ``parallel_decode.py`` is run on each: the PyAV reader with one worker under each libavcodec
thread setting (NONE x 1, SLICE x 2, FRAME x 2, AUTO x 2, AUTO x auto) and with two workers (1 or 2
codec threads each), on three access patterns -- 32 keyframes (what the pipeline's samplers
decode), 8 exact frames (each a run from its keyframe) and one 300-frame sequential run. Each
timing is the median of ``--repeats`` runs, the settings alternating.

The reader's own choice per pattern (``PyAVReader._threads_for``; "choice" rows) is compared with
the fastest fixed setting of each codec and pattern. Before this benchmark the reader used one
fixed setting for every pattern (one worker: AUTO x auto; workers: one thread each), which are
rows of the table too.

    python benchmarks/codec_threads.py            # all four codecs (about 10 minutes)
    python benchmarks/codec_threads.py --quick    # 20 s 640x360 files, one repeat

Results: benchmarks/results/codec_threads.json and codec_threads.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from parallel_decode import machine, selection, thread_settings  # noqa: E402

from videopipe.decode import open_video  # noqa: E402
from videopipe.testing.videos import make_long_video  # noqa: E402

CODECS = ("h264", "hevc", "vp9", "av1")
# the fixed settings the reader used for every pattern before this benchmark, per workers
FORMER = {1: ("AUTO", 0), 2: ("NONE", 1)}


def run(quick: bool, repeats: int, codecs: list[str]) -> dict:
    res: dict = {"machine": machine(), "quick": quick, "repeats": repeats, "codecs": {}}
    for codec in codecs:
        t = time.perf_counter()
        if quick:
            path = make_long_video(20, width=640, height=360, repeat_of_s=10, codec=codec)
        else:
            path = make_long_video(600, width=1920, height=1080, repeat_of_s=30, codec=codec)
        made_s = time.perf_counter() - t
        with open_video(path, backend="pyav", workers=1) as r:
            i = r.info
            info = f"{i.codec}, {i.width}x{i.height}, {i.num_frames} frames, {r._stream.codec_context.name}"
        keys = selection(path, 32, None)
        exact = selection(path, 8, "exact")
        rows = thread_settings(path, keys, exact, 100 if quick else 300, repeats)
        res["codecs"][codec] = {
            "video": path.name,
            "info": info,
            "generated_s": round(made_s, 1),
            "rows": rows,
        }
        print(json.dumps({codec: res["codecs"][codec]}, indent=1), flush=True)
    res["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return res


def summary(rows: list[dict]) -> dict[str, dict]:
    """Per pattern and workers: the fastest fixed setting, the reader's choice and the former
    fixed setting."""
    out: dict[str, dict] = {}
    for r in rows:
        p = out.setdefault(r["pattern"], {})
        w = r["workers"]
        if r["thread_type"] == "choice":
            p[f"choice_{w}"] = r
            continue
        best = p.get(f"best_{w}")
        if best is None or r["wall_s"] < best["wall_s"]:
            p[f"best_{w}"] = r
        if (r["thread_type"], r["thread_count"]) == FORMER[w]:
            p[f"former_{w}"] = r
    return out


def _name(r: dict) -> str:
    if r["thread_type"] == "choice":
        return "the reader's choice"
    return f"{r['thread_type']} x {r['thread_count'] or 'auto'}"


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Codec threads per codec and access pattern",
        "",
        f"Machine: {m['cpu']}, {m['usable_cores']} usable cores, PyAV {m['pyav']}; load average at the start "
        f"{m['load_avg_start']}, at the end {m.get('load_avg_end')}. Medians of {res['repeats']} runs; wall seconds.",
        "`python benchmarks/codec_threads.py --quick`: 20 s 640x360 files, GOP 250; a smoke run."
        if res.get("quick")
        else "`python benchmarks/codec_threads.py`: files made alike per codec (testsrc2 1080p, 25 fps, GOP 250, "
        "10 minutes); patterns: 32 keyframes at 448 px, 8 exact frames at 448 px, one 300-frame run at 64 px.",
        "",
    ]
    for codec, c in res["codecs"].items():
        lines += [f"## {codec} ({c['info']})", ""]
        patterns = list(dict.fromkeys(r["pattern"] for r in c["rows"]))
        settings = list(dict.fromkeys((r["workers"], _name(r)) for r in c["rows"]))
        lines += ["| workers, setting | " + " | ".join(patterns) + " |", "|---|" + "---:|" * len(patterns)]
        by = {(r["pattern"], r["workers"], _name(r)): r for r in c["rows"]}
        for w, name in settings:
            former = name == _name({"thread_type": FORMER[w][0], "thread_count": FORMER[w][1]})
            label = f"{w}, {name}" + (" (the former fixed choice)" if former else "")
            label = f"**{label}**" if name == "the reader's choice" else label
            cells = [f"{by[(p, w, name)]['wall_s']}" for p in patterns]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        for p, s in summary(c["rows"]).items():
            parts = []
            for w in (1, 2):
                b, ch, fo = s.get(f"best_{w}"), s.get(f"choice_{w}"), s.get(f"former_{w}")
                if b and ch:
                    parts.append(
                        f"{w} worker{'s' if w > 1 else ''}: fastest fixed {_name(b)} {b['wall_s']} s; the choice "
                        f"{ch['wall_s']} s ({ch['wall_s'] / b['wall_s']:.2f}x of it)"
                        + (f", the former {fo['wall_s']} s ({fo['wall_s'] / b['wall_s']:.2f}x)" if fo else "")
                    )
            lines.append(f"- {p}: " + "; ".join(parts))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--codecs", nargs="*", default=list(CODECS))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args()
    if args.render:
        res = json.loads((args.out / "codec_threads.json").read_text())
    else:
        res = run(args.quick, 1 if args.quick else args.repeats, args.codecs)
    name = "codec_threads-quick" if args.quick else "codec_threads"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
    (args.out / f"{name}.md").write_text(to_markdown(res))
    print(f"wrote {args.out / name}.json and .md")


if __name__ == "__main__":
    main()
