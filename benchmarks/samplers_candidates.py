"""Packet-size spike candidates: the per-sampler part of ``benchmarks/samplers.py`` for the
samplers that score candidates (keyclip, query, space_aware), with the spike candidates
(default, ``spike_budget_frames=2000``) against the old keyframe-only candidates
(``spike_budget_frames=0``), in the same run, on:

- the 10- and 60-minute 720p ``testsrc2`` videos of ``benchmarks/samplers.py`` (GOP 250, no
  B-frames): no content cuts, so this measures what the spike path costs when it finds nothing;
- the 60-minute one with 3 B-frames: its container index gives sizes in decode order, so
  ``packet_sizes()`` demuxes every packet once (the cost of that pass is measured);
- a 10-minute 720p ``testsrc2`` turned upside down and back every 7.3 s (82 content changes, nearly all
  between keyframes): the spike candidates are found and decoded here. For it the decode cost
  of the ``grid`` candidates (what ``candidates="grid"`` would decode) is estimated too.

    python benchmarks/samplers_candidates.py            # full run
    python benchmarks/samplers_candidates.py --quick    # smoke test on short, small videos

Results: benchmarks/results/samplers_candidates.json and .md (the lead's samplers.json/.md
are not touched).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from samplers import QUERY, machine  # noqa: E402

from videopipe.decode import open_video  # noqa: E402
from videopipe.decode.probe import ffmpeg_bin  # noqa: E402
from videopipe.registry import EMBEDDERS, SAMPLERS  # noqa: E402
from videopipe.samplers.candidates import candidate_frames  # noqa: E402
from videopipe.samplers.frame_times import decode_cost, keyframe_indices  # noqa: E402
from videopipe.testing.videos import make_long_video, video_cache_dir  # noqa: E402
from videopipe.types import Budget  # noqa: E402

SAMPLER_NAMES = ("keyclip", "query", "space_aware")
CUT_EVERY_S = 7.3


def make_cut_video(duration_s: float, *, width: int = 1280, height: int = 720, gop: int = 250) -> Path:
    """testsrc2 turned upside down (180 degrees) every CUT_EVERY_S seconds and back: a
    whole-picture content change between keyframes (fixed GOP, no scene-cut keyframes), cached.
    x264 ``veryfast``: with ``ultrafast`` testsrc2's P-frames cost about half an I-frame, so no
    packet can be much larger than its neighbours and the detector finds nothing (a limit of
    the signal, see docs/samplers.md)."""
    path = (
        video_cache_dir()
        / f"flips-{int(duration_s)}s-{width}x{height}-g{gop}-every{CUT_EVERY_S}-veryfast.mp4"
    )
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size > 0:
            return path
        tmp = path.with_name(path.stem + ".tmp.mp4")
        src = f"testsrc2=size={width}x{height}:rate=25:duration={duration_s}"
        on = f"enable='mod(floor(t/{CUT_EVERY_S}),2)'"
        hue = f"hflip={on},vflip={on}"
        cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src, "-vf", hue]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(gop)]
        cmd += [
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-bf",
            "0",
            "-movflags",
            "+faststart",
            str(tmp),
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        tmp.replace(path)
    return path


def run(
    path: Path, name: str, spike_budget: int, budget: Budget, *, grid_estimate: bool, candidates: str = "auto"
) -> dict:
    t0 = time.perf_counter()
    reader = open_video(path)
    t1 = time.perf_counter()
    kw: dict = {"query": QUERY, "features": EMBEDDERS.create("color")} if name == "query" else {}
    sel = SAMPLERS.create(name, spike_budget_frames=spike_budget, candidates=candidates)(reader, budget, **kw)
    t2 = time.perf_counter()
    for c in sel.clips:
        reader.frames_at(list(c.indices), size=c.size or budget.size_px)
    t3 = time.perf_counter()
    times = reader.pts_s
    keys = keyframe_indices(reader, times)
    cands = candidate_frames(
        reader,
        times,
        keys,
        rate_hz=1.0,
        max_candidates=1024,
        spike_budget_frames=spike_budget,
        mode=candidates,
    )
    row = {
        "sampler": name,
        "candidates_mode": candidates,
        "spike_budget_frames": spike_budget,
        "open_s": round(t1 - t0, 3),
        "select_s": round(t2 - t1, 3),
        "decode_selection_s": round(t3 - t2, 3),
        "total_s": round(t3 - t0, 3),
        "candidates": sel.meta.get("candidates"),
        "candidates_from_spikes": sel.meta.get("candidates_from_spikes"),
        "packet_spikes": sel.meta.get("packet_spikes"),
        "spike_decode_frames": sel.meta.get("spike_decode_frames"),
        "candidate_decode_cost": decode_cost(cands.indices, keys),
        "sampler_frames_decoded": sel.frames_decoded,
        "frames_selected": sel.num_frames,
    }
    if grid_estimate:
        grid = candidate_frames(reader, times, keys, rate_hz=1.0, max_candidates=1024, mode="grid")
        row["grid_candidate_decode_cost"] = decode_cost(grid.indices, keys)
    reader.close()
    return row


def packet_sizes_cost(path: Path) -> dict:
    """Time of the first packet_sizes() call on a fresh reader (free from the frame table, or
    one demux pass for B-frame MP4s) and whether the table had them."""
    with open_video(path) as r:
        from_table = r._index.sizes is not None  # noqa: SLF001 - reported, not relied on
        t = time.perf_counter()
        sizes = r.packet_sizes()
        dt = time.perf_counter() - t
    return {"from_frame_table": from_table, "first_call_s": round(dt, 3), "known": sizes is not None}


def _median_row(rs: list[dict]) -> dict:
    row = dict(rs[0])
    for k in ("open_s", "select_s", "decode_selection_s", "total_s"):
        row[k] = round(statistics.median(r[k] for r in rs), 3)
        row[k + "_all"] = [r[k] for r in rs]
    return row


def change_coverage(path: Path) -> dict:
    """Of the video's content changes (every CUT_EVERY_S s), how many have a candidate showing
    the new content within 1 s after the change, with and without spike candidates (no
    decoding: the candidates are computed, not scored)."""
    with open_video(path) as r:
        times = r.pts_s
        keys = keyframe_indices(r, times)
        out: dict = {}
        for spikes in (0, 2000):
            c = candidate_frames(r, times, keys, rate_hz=1.0, max_candidates=1024, spike_budget_frames=spikes)
            ct = times[c.indices]
            changes = [CUT_EVERY_S * k for k in range(1, int(times[-1] / CUT_EVERY_S) + 1)]
            hit = sum(bool(((ct >= t) & (ct < t + 1.0)).any()) for t in changes)
            out[str(spikes)] = {"changes": len(changes), "with_candidate_within_1s": hit}
    return out


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Spike candidates benchmark (keyclip, query, space_aware)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average "
        f"{m['load_avg_start']:.1f} at start, {m.get('load_avg_end', 0):.1f} at end (1.0 = one busy core; "
        "above ~1.5 other jobs shared the machine). "
        f"Budget: {res['budget']}. `spikes` = default candidates (`spike_budget_frames=2000`); "
        "`keyframes only` = `spike_budget_frames=0` (the candidates before this change). "
        f"Times: median of {res.get('repeats', 1)} runs, the two variants alternating; ratios compare "
        "them within this run. Candidate decode cost: frames a seek-and-decode-forward decoder "
        "decodes to return the candidates (`decode_cost`); for the cuts video also what "
        '`candidates="grid"` would decode.',
        "",
        "| video | sampler | candidates | from spikes | spikes found | spike decode frames | "
        "candidate decode cost (frames) | select s | total s | select s, keyframes only | "
        "total s, keyframes only | total ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in res["videos"]:
        rows = {(r["sampler"], r["spike_budget_frames"] > 0): r for r in v["rows"]}
        for name in SAMPLER_NAMES:
            a, b = rows[(name, True)], rows[(name, False)]
            ratio = a["total_s"] / max(b["total_s"], 1e-9)
            lines.append(
                f"| {v['label']} | {name} | {a['candidates']} (vs {b['candidates']}) | "
                f"{a['candidates_from_spikes']} | {a['packet_spikes']} | {a['spike_decode_frames']} | "
                f"{a['candidate_decode_cost']} (vs {b['candidate_decode_cost']}"
                + (f"; grid {a['grid_candidate_decode_cost']}" if "grid_candidate_decode_cost" in a else "")
                + f") | {a['select_s']} | {a['total_s']} | {b['select_s']} | {b['total_s']} | {ratio:.2f} |"
            )
    for v in res["videos"]:
        if "grid_run" in v:
            g = v["grid_run"]
            lines += [
                "",
                f'{v["label"]}: keyclip with `candidates="grid"` (measured, same run): {g["candidates"]} '
                f"candidates, decode cost {g['candidate_decode_cost']} frames, select {g['select_s']} s, "
                f"total {g['total_s']} s.",
            ]
        if "change_coverage" in v:
            new, old = v["change_coverage"]["2000"], v["change_coverage"]["0"]
            lines += [
                "",
                f"{v['label']}: {new['with_candidate_within_1s']} of {new['changes']} content changes have "
                f"a candidate within 1 s after them with spike candidates, {old['with_candidate_within_1s']} "
                "with keyframes only.",
            ]
    lines += [
        "",
        "First `packet_sizes()` call on a fresh reader:",
        "",
        "| video | from frame table | s |",
        "|---|---|---:|",
    ]
    for v in res["videos"]:
        p = v["packet_sizes"]
        lines.append(f"| {v['label']} | {p['from_frame_table']} | {p['first_call_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short small videos")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration (median reported)")
    ap.add_argument(
        "--add-coverage", action="store_true", help="only add change coverage to the saved JSON and re-render"
    )
    args = ap.parse_args()
    if args.add_coverage:
        res = json.loads((args.out / "samplers_candidates.json").read_text())
        for v in res["videos"]:
            if "cuts" in v["label"]:
                v["change_coverage"] = change_coverage(video_cache_dir() / v["path"])
        (args.out / "samplers_candidates.json").write_text(json.dumps(res, indent=2) + "\n")
        (args.out / "samplers_candidates.md").write_text(to_markdown(res))
        return
    if args.quick:
        args.repeats = 1
        videos = [
            ("3 min", make_long_video(180, width=320, height=180)),
            ("3 min, cuts", make_cut_video(180, width=320, height=180)),
        ]
    else:
        videos = [
            ("10 min", make_long_video(600)),
            ("60 min", make_long_video(3600)),
            ("60 min, 3 B-frames", make_long_video(3600, bframes=3)),
            ("10 min, cuts every 7.3 s", make_cut_video(600)),
        ]
    budget = Budget(num_frames=64, size_px=448)
    res: dict = {"machine": machine(), "budget": "num_frames=64, size_px=448", "videos": []}
    res["repeats"] = args.repeats
    for label, path in videos:
        entry = {"label": label, "path": path.name, "packet_sizes": packet_sizes_cost(path), "rows": []}
        if "cuts" in label:
            entry["change_coverage"] = change_coverage(path)
        for name in SAMPLER_NAMES:
            runs: dict[int, list[dict]] = {0: [], 2000: []}
            for _ in range(args.repeats):
                for spikes in (0, 2000):  # alternate old/new: load from other jobs hits both alike
                    runs[spikes].append(run(path, name, spikes, budget, grid_estimate="cuts" in label))
            for rs in runs.values():
                row = _median_row(rs)
                print(label, row, flush=True)
                entry["rows"].append(row)
        if "cuts" in label:  # what candidates="grid" costs, measured (keyclip)
            rs = [
                run(path, "keyclip", 0, budget, grid_estimate=False, candidates="grid")
                for _ in range(args.repeats)
            ]
            entry["grid_run"] = _median_row(rs)
            print(label, entry["grid_run"], flush=True)
        res["videos"].append(entry)
    res["machine"]["load_avg_end"] = os.getloadavg()[0]
    if not args.quick:  # the numbers first: a rendering bug must not lose a long run
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "samplers_candidates.json").write_text(json.dumps(res, indent=2) + "\n")
    md = to_markdown(res)
    if args.quick:
        print(md)
        return
    (args.out / "samplers_candidates.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
