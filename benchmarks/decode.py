"""Decoding benchmark (issue 2): exact frame sampling, keyframe reads, memory vs length.

    python benchmarks/decode.py            # full run (generates the 60-min videos once, ~minutes)
    python benchmarks/decode.py --quick    # smoke test on a 2-minute video

Every case runs in a fresh subprocess so its peak RSS is its own. Results:
benchmarks/results/decode.json and decode.md (``--quick`` writes decode-quick.*).

(a) exact ``frames_at`` on 32/64/256 linspace indices at 448 px (shorter side), for every
    backend, against the qwen-vl-utils way (decord ``VideoReader`` + ``get_batch`` on
    ``linspace`` indices, then a bicubic resize) and a naive OpenCV sequential read, on a
    60-minute 1280x720 25 fps H.264 video (GOP 250) without and with B-frames. The physical
    limit is the fastest measured sequential decode rate times the frames that must be
    decoded (from each target's preceding keyframe up to it, GOPs shared by several targets
    counted once).
(b) keyframe timestamps from the container index vs demuxing every packet; decoding 64
    keyframes by seek.
(c) peak RSS for 64 frames from a 2-minute vs a 2-hour video.
(d) files that lie (issue 12): 64 frames at 448 px from a 5-minute 720p H.264 B-frame video
    read by random access, from the same stream remuxed with pts = dts (read sequentially:
    the table comes from a full decode, then the frames from a second one), and from the same
    content as MPEG-2 in MPEG-TS (random access with late seeks stepped back); each against a
    plain ``ffmpeg -i FILE -f null -`` full decode of the same file.

``--only d`` (any subset) keeps the other parts' committed results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

SIZE_PX = 448


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds (user + system, all threads) this process used so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_LIBS = {"pyav": "av", "torchcodec": "torchcodec.decoders", "decord": "decord"}


def linspace_indices(n: int, k: int) -> np.ndarray:
    return np.linspace(0, n - 1, k).round().astype(np.int64)


def thumbs(frames: np.ndarray) -> np.ndarray:
    """16x16 per-frame thumbnails (mean-pooled) to compare backends' outputs cheaply; one
    frame at a time (computed after the peak RSS was recorded)."""
    import torch
    import torch.nn.functional as F

    out = []
    for f in frames:
        t = torch.as_tensor(f).permute(2, 0, 1).float().unsqueeze(0)
        out.append(F.adaptive_avg_pool2d(t, (16, 16))[0].numpy())
    return np.stack(out)


# --------------------------------------------------------------------------------------
# worker: one case in this process
# --------------------------------------------------------------------------------------
def _frame_count(path: str) -> int:
    import av

    with av.open(path) as c:
        return int(c.streams.video[0].frames)


def case_ours(path: str, backend: str, k: int) -> dict:
    import importlib

    import torch  # noqa: F401 - imported before timing: not part of decoding

    from videopipe.decode import open_video

    importlib.import_module(_LIBS[backend])  # the decoder library's import is not decoding either
    base = rss_mb()
    t0 = time.perf_counter()
    c0 = cpu_s()
    with open_video(path, backend=backend, device="cpu") as r:
        t_open = time.perf_counter() - t0
        idx = linspace_indices(r.info.num_frames, k)
        fr = r.frames_at(idx, size=SIZE_PX)
        dt = time.perf_counter() - t0
        extra = {
            "frames_decoded": getattr(r, "frames_decoded", None),
            "index": getattr(r._index, "source", ""),
        }
    return {
        "time_s": dt,
        "cpu_s": cpu_s() - c0,
        "open_s": t_open,
        "base_rss_mb": base,
        "shape": list(fr.data.shape),
        "frames": fr.data.numpy(),
        **extra,
    }


def case_qwen(path: str, k: int) -> dict:
    """The qwen-vl-utils way: decord VideoReader, get_batch(linspace), torch resize."""
    import decord
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    base = rss_mb()
    t0 = time.perf_counter()
    c0 = cpu_s()
    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
    total = len(vr)
    idx = torch.linspace(0, total - 1, k).round().long().tolist()
    video = torch.tensor(vr.get_batch(idx).asnumpy()).permute(0, 3, 1, 2)
    h, w = video.shape[2:]
    s = SIZE_PX / min(h, w)
    video = TF.resize(
        video, [round(h * s), round(w * s)], interpolation=InterpolationMode.BICUBIC, antialias=True
    )
    dt = time.perf_counter() - t0
    arr = video.permute(0, 2, 3, 1).contiguous().numpy()
    return {
        "time_s": dt,
        "cpu_s": cpu_s() - c0,
        "base_rss_mb": base,
        "shape": list(arr.shape),
        "frames": arr,
    }


def case_opencv(path: str, k: int, max_frames: int = 0) -> dict:
    """Naive: read every frame with OpenCV, keep the targets, resize them. With
    ``max_frames``, stop after that many frames (the time for the whole file is then
    extrapolated from the read rate by the driver and marked as such)."""
    import cv2
    import torch  # noqa: F401

    base = rss_mb()
    t0 = time.perf_counter()
    c0 = cpu_s()
    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    want = set(linspace_indices(n, k).tolist())
    out, i = [], 0
    while not max_frames or i < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        if i in want:
            h, w = frame.shape[:2]
            s = SIZE_PX / min(h, w)
            small = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            out.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    dt = time.perf_counter() - t0
    dc = cpu_s() - c0
    res = {"time_s": dt, "cpu_s": dc, "base_rss_mb": base, "frames_read": i, "frames_total": n}
    if i < n:
        res.update(
            measured_s=dt,
            measured_cpu_s=dc,
            time_s=dt * n / i,
            cpu_s=dc * n / i,
            extrapolated=f"from the first {i} of {n} frames",
        )
    return res


def case_seq_rate(path: str, frames: int, threads: str) -> dict:
    """Sequential decode rate (decode only, no conversion) over the first ``frames`` frames."""
    import av

    base = rss_mb()
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = threads
        t0 = time.perf_counter()
        c0 = cpu_s()
        n = 0
        for _ in c.decode(s):
            n += 1
            if n >= frames:
                break
        dt = time.perf_counter() - t0
        dc = cpu_s() - c0
    return {"time_s": dt, "fps": n / dt, "cpu_s": dc, "cpu_s_per_frame": dc / n, "base_rss_mb": base}


def case_kf_index(path: str) -> dict:
    import torch  # noqa: F401

    from videopipe.decode import open_video

    base = rss_mb()
    t0 = time.perf_counter()
    with open_video(path, backend="pyav") as r:
        kt = r.keyframe_times()
    return {"time_s": time.perf_counter() - t0, "count": len(kt), "base_rss_mb": base}


def case_kf_demux(path: str) -> dict:
    import av

    base = rss_mb()
    t0 = time.perf_counter()
    with av.open(path) as c:
        s = c.streams.video[0]
        tb = float(s.time_base)
        kt = [p.pts * tb for p in c.demux(s) if p.is_keyframe and p.pts is not None]
    return {"time_s": time.perf_counter() - t0, "count": len(kt), "base_rss_mb": base}


def case_kf_decode(path: str, k: int) -> dict:
    import torch  # noqa: F401

    from videopipe.decode import open_video

    base = rss_mb()
    t0 = time.perf_counter()
    with open_video(path, backend="pyav") as r:
        kt = np.asarray(r.keyframe_times())
        sel = kt[linspace_indices(len(kt), k)]
        fr = r.frames_at_times(sel, size=SIZE_PX)
        dec = r.frames_decoded
    return {
        "time_s": time.perf_counter() - t0,
        "frames_decoded": dec,
        "shape": list(fr.data.shape),
        "base_rss_mb": base,
    }


def case_ffmpeg(path: str) -> dict:
    """A plain full decode by the ffmpeg command line (all its threads), discarding frames."""
    from videopipe.decode.probe import ffmpeg_bin

    t0 = time.perf_counter()
    r = subprocess.run(
        [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise SystemExit(r.stderr[-300:])
    return {"time_s": time.perf_counter() - t0}


def lying_videos(duration_s: int) -> dict[str, Path]:
    """The same 720p content as an honest B-frame MP4, a pts = dts remux, and MPEG-2 TS."""
    from videopipe.decode.probe import ffmpeg_bin
    from videopipe.testing.videos import make_long_video

    src = make_long_video(duration_s, bframes=3)
    out = {"random (honest MP4)": src}
    for label, suffix, args in (
        ("pts = dts MP4", ".ptsdts.mp4", ["-c", "copy", "-bsf:v", "setts=pts=DTS"]),
        ("MPEG-2 TS (late seeks)", ".mpeg2.ts", ["-c:v", "mpeg2video", "-q:v", "4", "-bf", "2", "-g", "250"]),
    ):
        p = src.with_name(src.stem + suffix)
        if not p.exists():
            tmp = p.with_name("tmp-" + p.name)
            cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-map", "0:v"]
            subprocess.run([*cmd, *args, str(tmp)], check=True)
            tmp.replace(p)
        out[label] = p
    return out


def forget_table(path: Path) -> None:
    """Remove ``path``'s decoded frame table from the disk cache (videopipe.decode.table_cache)."""
    from videopipe.config import default_cache_dir
    from videopipe.decode.probe import probe
    from videopipe.decode.table_cache import table_key

    key = table_key(str(path), probe(path).stream_index)
    (default_cache_dir() / "frame-tables" / f"{key}.npz").unlink(missing_ok=True)


def worker(spec: dict) -> None:
    kind = spec["kind"]
    p = spec["path"]
    if kind == "ours":
        res = case_ours(p, spec["backend"], spec["k"])
    elif kind == "qwen":
        res = case_qwen(p, spec["k"])
    elif kind == "opencv":
        res = case_opencv(p, spec["k"], spec.get("max_frames", 0))
    elif kind == "seq":
        res = case_seq_rate(p, spec["frames"], spec["threads"])
    elif kind == "kf_index":
        res = case_kf_index(p)
    elif kind == "kf_demux":
        res = case_kf_demux(p)
    elif kind == "kf_decode":
        res = case_kf_decode(p, spec["k"])
    elif kind == "ffmpeg":
        res = case_ffmpeg(p)
    else:
        raise SystemExit(f"unknown case {kind}")
    res["peak_rss_mb"] = rss_mb()  # before the benchmark's own thumbnailing below
    frames = res.pop("frames", None)
    if frames is not None:
        np.save(spec["thumbs_out"], thumbs(frames))
    print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------
def run_case(spec: dict, timeout_s: int, tmp: Path) -> dict:
    spec = dict(spec)
    spec["thumbs_out"] = str(tmp / f"th-{abs(hash(json.dumps(spec, sort_keys=True)))}.npy")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=str(ROOT),
        )
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {timeout_s} s"}
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {**spec, "error": tail[0][:300], "wall_s": time.perf_counter() - t0}
    res = json.loads(line[-1][len("RESULT ") :])
    return {**spec, **res}


def frames_needed(path: str, k: int) -> int:
    """Frames an exact decoder must decode for ``k`` linspace targets: from each target's
    preceding keyframe to the target, shared groups of pictures counted once."""
    from videopipe.decode.build_table import read_frame_table

    ix = read_frame_table(path, 0)
    targets = ix.pts[linspace_indices(ix.num_frames, k)]
    need: set[int] = set()
    for t in targets.tolist():
        kp = ix.key_pts[ix.keyframe_for(t)]
        a, b = np.searchsorted(ix.pts, kp), np.searchsorted(ix.pts, t)
        need.update(range(int(a), int(b) + 1))
    return len(need)


def machine() -> str:
    cpu = cpu_name()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2-minute video, few cases (smoke test)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--render", help="only rewrite the markdown from this results JSON")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per case")
    ap.add_argument(
        "--opencv-frames",
        type=int,
        default=0,
        help="read only this many frames with OpenCV and extrapolate its time to the whole file (0: all)",
    )
    ap.add_argument("--only", default="", help="comma list of parts to run: a,b,c")
    args = ap.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.render:
        res = json.loads(Path(args.render).read_text())
        _write(res, bool(res.get("quick")))
        return

    from videopipe.testing.videos import make_long_video

    parts = set(args.only.split(",")) if args.only else {"a", "b", "c", "d"}
    if args.quick:
        ks, long_s, short_s = [8, 32], 120, 60
    else:
        ks, long_s, short_s = [32, 64, 256], 7200, 120
    videos: dict = {}
    if parts & {"a", "b"}:  # made (once, cached) only for the parts that use them
        if args.quick:
            videos = {"2min-bf0": make_long_video(120, bframes=0)}
        else:
            videos = {
                "60min-bf0": make_long_video(3600, bframes=0),
                "60min-bf3": make_long_video(3600, bframes=3),
            }
    backends = ["pyav", "torchcodec", "decord"]
    results: dict = {"machine": machine(), "size_px": SIZE_PX, "quick": args.quick, "a": {}, "b": {}, "c": {}}
    committed = ROOT / "benchmarks" / "results" / ("decode-quick.json" if args.quick else "decode.json")
    if args.only and committed.exists():  # a partial run keeps the other parts' results
        results = {**json.loads(committed.read_text()), "machine": results["machine"]}
    results.setdefault("d", {})
    tmp = Path(tempfile.mkdtemp(prefix="vp-bench-"))

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    if "a" in parts:
        for vname, vpath in videos.items():
            vp = str(vpath)
            rows = {}
            seq = [
                run_case({"kind": "seq", "path": vp, "frames": 1500, "threads": t}, args.timeout, tmp)
                for t in ("AUTO", "SLICE", "NONE")
            ]
            best = max((s.get("fps", 0.0) for s in seq), default=0.0)
            best_cpu = min((s.get("cpu_s_per_frame", float("inf")) for s in seq), default=float("inf"))
            log(f"{vname}: sequential decode fps {[round(s.get('fps', 0), 1) for s in seq]}")
            ocv = run_case(
                {"kind": "opencv", "path": vp, "k": 64, "max_frames": args.opencv_frames}, args.timeout, tmp
            )
            log(f"{vname}: opencv sequential {ocv.get('time_s', ocv.get('error'))}")
            for k in ks:
                need = frames_needed(vp, k)
                limit = need / best if best else float("nan")
                row = {"frames_needed": need, "limit_s": limit, "limit_cpu_s": need * best_cpu}
                ref = None
                for name in ["pyav", *[b for b in backends if b != "pyav"], "qwen"]:
                    spec = (
                        {"kind": "qwen", "path": vp, "k": k}
                        if name == "qwen"
                        else {"kind": "ours", "path": vp, "backend": name, "k": k}
                    )
                    r = run_case(spec, args.timeout, tmp)
                    if "error" not in r and os.path.exists(r["thumbs_out"]):
                        th = np.load(r["thumbs_out"])
                        if name == "pyav":
                            ref = th
                        elif ref is not None and th.shape == ref.shape:
                            d = np.abs(th - ref).mean(axis=(1, 2, 3))
                            r["max_thumb_diff_vs_pyav"] = float(d.max())
                            r["frames_differing_vs_pyav"] = int((d > 3.0).sum())
                    r.pop("thumbs_out", None)
                    row[name] = r
                    log(f"{vname} k={k} {name}: {r.get('time_s', r.get('error'))}")
                ocv_k = dict(ocv)
                ocv_k.pop("thumbs_out", None)
                row["opencv"] = ocv_k  # the sequential read costs the same for any k
                rows[str(k)] = row
            results["a"][vname] = {
                "seq": seq,
                "best_seq_fps": best,
                "best_cpu_s_per_frame": best_cpu,
                "cases": rows,
            }
            _write(results, args.quick)

    if "b" in parts:
        for vname, vpath in videos.items():
            vp = str(vpath)
            results["b"][vname] = {
                "size_gb": os.path.getsize(vp) / 1e9,
                "index": run_case({"kind": "kf_index", "path": vp}, args.timeout, tmp),
                "demux": run_case({"kind": "kf_demux", "path": vp}, args.timeout, tmp),
                "decode64": run_case({"kind": "kf_decode", "path": vp, "k": 64}, args.timeout, tmp),
            }
            log(
                f"{vname}: keyframes {results['b'][vname]['index'].get('time_s')} vs demux {results['b'][vname]['demux'].get('time_s')}"
            )
            _write(results, args.quick)

    if "c" in parts:
        short, long_ = make_long_video(short_s, bframes=0), make_long_video(long_s, bframes=0)
        for name in ["pyav", "torchcodec", "decord", "qwen"]:
            row = {}
            for label, vp in (("short", short), ("long", long_)):
                spec = (
                    {"kind": "qwen", "path": str(vp), "k": 64}
                    if name == "qwen"
                    else {"kind": "ours", "path": str(vp), "backend": name, "k": 64}
                )
                r = run_case(spec, args.timeout, tmp)
                r.pop("thumbs_out", None)
                row[label] = r
            row["short_s"], row["long_s"] = short_s, long_s
            results["c"][name] = row
            log(f"memory {name}: {row['short'].get('peak_rss_mb')} vs {row['long'].get('peak_rss_mb')} MB")
            _write(results, args.quick)
    if "d" in parts:
        from videopipe.decode import open_video

        dur = 60 if args.quick else 300
        rows = {}
        for label, vp in lying_videos(dur).items():
            forget_table(vp)  # a cold open: the decoded table (if the file needs one) is built
            spec = {"kind": "ours", "path": str(vp), "backend": "pyav", "k": 64}
            ours = run_case(spec, args.timeout, tmp)
            ours.pop("thumbs_out", None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with open_video(vp, backend="pyav") as r:
                    access = r.info.access
            warm = None
            if access != "random":  # again, with the decoded table from the disk cache
                warm = run_case(spec, args.timeout, tmp)
                warm.pop("thumbs_out", None)
            ff = run_case({"kind": "ffmpeg", "path": str(vp)}, args.timeout, tmp)
            ff.pop("thumbs_out", None)
            rows[label] = {"access": access, "ours": ours, "ours_warm": warm, "ffmpeg": ff}
            log(
                f"(d) {label}: {access} {ours.get('time_s', ours.get('error'))} s vs ffmpeg {ff.get('time_s')} s"
            )
        results["d"] = {"duration_s": dur, "rows": rows}
        _write(results, args.quick)
    _write(results, args.quick)


def _fmt(x, nd=2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _write(results: dict, quick: bool) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = "decode-quick" if quick else "decode"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    md = [f"# Decoding benchmark{' (quick)' if quick else ''}", "", f"Machine: {results['machine']}.", ""]
    md += [
        "Times are wall-clock seconds including opening the file (ffprobe, frame table) but not",
        "Python imports; peak RSS is the whole process (torch imported: see `base` = RSS before",
        "decoding). Each case ran in a fresh subprocess.",
        "",
    ]
    for vname, v in results["a"].items():
        md += [f"## (a) exact frames_at, {vname} ({results['size_px']} px shorter side)", ""]
        md += [
            f"Sequential decode rate (PyAV, first 1500 frames): best {v['best_seq_fps']:.0f} fps "
            f"(AUTO/SLICE/NONE threads: {', '.join(_fmt(s.get('fps'), 0) for s in v['seq'])}).",
            "",
        ]
        md += [
            "| k | frames needed | limit s | backend | time s | x limit | x qwen time | CPU s | CPU x limit "
            "| peak RSS MB | base MB | RSS vs qwen | frames != pyav |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k, row in v["cases"].items():
            q = row.get("qwen", {})
            for name in ("pyav", "torchcodec", "decord", "qwen", "opencv"):
                r = row.get(name, {})
                if "error" in r:
                    md.append(
                        f"| {k} | {row['frames_needed']} | {_fmt(row['limit_s'])} | {name} | error: {r['error'][:80]} | | | | | | | | |"
                    )
                    continue
                t = r.get("time_s")
                xl = t / row["limit_s"] if t and row["limit_s"] else None
                xq = t / q["time_s"] if t and q.get("time_s") else None
                xr = (
                    r.get("peak_rss_mb") / q["peak_rss_mb"]
                    if r.get("peak_rss_mb") and q.get("peak_rss_mb")
                    else None
                )
                diff = r.get("frames_differing_vs_pyav", "")
                if r.get("extrapolated"):
                    diff = f"(time extrapolated {r['extrapolated']})"
                c = r.get("cpu_s")
                cl = c / row["limit_cpu_s"] if c and row.get("limit_cpu_s") else None
                md.append(
                    f"| {k} | {row['frames_needed']} | {_fmt(row['limit_s'])} | {name} | {_fmt(t)} | {_fmt(xl)} | {_fmt(xq)} | "
                    f"{_fmt(c)} | {_fmt(cl)} | "
                    f"{_fmt(r.get('peak_rss_mb'), 0)} | {_fmt(r.get('base_rss_mb'), 0)} | {_fmt(xr)} | {diff} |"
                )
        md.append("")
    if results["b"]:
        md += [
            "## (b) keyframe-only reads",
            "",
            "| video | size GB | keyframe times from index s | by demuxing every packet s | keyframes | decode 64 keyframes by seek s | frames decoded |",
            "|---|---|---|---|---|---|---|",
        ]
        for vname, v in results["b"].items():
            md.append(
                f"| {vname} | {v['size_gb']:.2f} | {_fmt(v['index'].get('time_s'))} | {_fmt(v['demux'].get('time_s'))} | "
                f"{v['index'].get('count')} | {_fmt(v['decode64'].get('time_s'))} | {v['decode64'].get('frames_decoded')} |"
            )
        md.append("")
    if results["c"]:
        md += [
            "## (c) peak RSS for 64 frames, short vs long video",
            "",
            "| backend | short video | long video | peak RSS short MB | peak RSS long MB | base MB | time short s | time long s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, row in results["c"].items():
            s, lg = row["short"], row["long"]
            md.append(
                f"| {name} | {row['short_s']} s | {row['long_s']} s | {_fmt(s.get('peak_rss_mb'), 0)} | {_fmt(lg.get('peak_rss_mb'), 0)} | "
                f"{_fmt(s.get('base_rss_mb'), 0)} | {_fmt(s.get('time_s'))} | {_fmt(lg.get('time_s') if 'error' not in lg else None)} |"
            )
        md.append("")
    md += _render_d(results.get("d") or {})
    (out / f"{stem}.md").write_text("\n".join(md) + "\n")


def _render_d(d: dict) -> list[str]:
    if not d.get("rows"):
        return []
    rows = d["rows"]
    base = rows.get("random (honest MP4)", {}).get("ours", {}).get("time_s")
    md = [
        f"## (d) files that lie: 64 frames at 448 px from a {d['duration_s'] // 60}-minute 720p video",
        "",
        "Same content in each row. `x random` divides by the honest file's random-access time in the",
        "same run; `x ffmpeg` by a plain `ffmpeg -i FILE -f null -` full decode of that row's file.",
        "",
        "A `warm` row opens the file again with its decoded frame table from the disk cache.",
        "",
        "| file | access | open s | open + 64 frames s | frames decoded | x random | ffmpeg full decode s | x ffmpeg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, row in rows.items():
        f = row["ffmpeg"]
        tf = f.get("time_s")
        for tag, o in (("", row["ours"]), (" (warm)", row.get("ours_warm"))):
            if not o:
                continue
            t = o.get("time_s")
            md.append(
                f"| {label}{tag} | {row['access']} | {_fmt(o.get('open_s'))} | {_fmt(t)} | {o.get('frames_decoded')} | "
                f"{_fmt(t / base if t and base else None)} | {_fmt(tf)} | {_fmt(t / tf if t and tf else None)} |"
            )
    md.append("")
    return md


if __name__ == "__main__":
    main()
