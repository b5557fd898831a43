"""Keyframe-only requests with PyAV: packet + drain against skip-non-key decoding.

    python benchmarks/keyframe_drain.py            # 60-minute 720p videos, with and without B-frames
    python benchmarks/keyframe_drain.py --quick    # 3-minute small videos

When every requested frame is a keyframe (uniform with keyframe snapping, the probes of
keyframe/keyclip/query/space_aware), the pyav backend seeks to each and sends just that
packet, then drains the decoder (``PyAVReader._decode_keyframes``) -- when the stream has
a reordering delay (B-frames); without one it keeps the baseline, which is as fast there (the
rows without B-frames show that both ways give the same time). The baseline, measured in
the same run on the same reader, is the path used before: ``skip_frame=NONKEY`` and decode
forward until the keyframe comes out. With B-frames the decoder holds the keyframe back until
more frames arrive, and with the others skipped those come from the next keyframe, so the
baseline demuxes about a whole GOP per target. Both return identical pixels (checked here).
Writes benchmarks/results/keyframe_drain.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

from videopipe.decode import open_video  # noqa: E402
from videopipe.testing.videos import make_long_video  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def run(path: Path, k: int, size: int, drain: bool) -> tuple[float, np.ndarray]:
    with open_video(path, backend="pyav") as r:
        keys = np.searchsorted(r._index.pts, r._index.key_pts)  # frame numbers of the keyframes
        pick = keys[np.linspace(0, len(keys) - 1, k).round().astype(int)]
        if not drain:  # the baseline: no drain path, straight to skip-non-key decoding
            r._decode_keyframes = lambda *a, **kw: None  # type: ignore[method-assign]
        t0 = time.perf_counter()
        fr = r.frames_at(pick.tolist(), size=size)
        return time.perf_counter() - t0, fr.array


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()
    secs = 180 if args.quick else 3600
    wh = (320, 180) if args.quick else (1280, 720)
    rows = []
    for bframes in (0, 3):
        path = make_long_video(secs, width=wh[0], height=wh[1], bframes=bframes)
        for k, size in ((64, 448), (360, 64)):
            drain_t, base_t = [], []
            for rep in range(args.repeats):  # alternate, and swap which goes first (page cache)
                order = (True, False) if rep % 2 == 0 else (False, True)
                got = {}
                for drain in order:
                    t, got[drain] = run(path, k, size, drain=drain)
                    (drain_t if drain else base_t).append(t)
                assert np.array_equal(got[True], got[False]), "the two paths returned different pixels"
            d, b = statistics.median(drain_t), statistics.median(base_t)
            rows.append({"video": path.name, "bframes": bframes, "keyframes": k, "size_px": size,
                         "drain_s": round(d, 3), "skip_nonkey_s": round(b, 3), "speedup": round(b / d, 1)})  # fmt: skip
            print(rows[-1], flush=True)
    cpu = cpu_name()
    res = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                       "load_avg_end": os.getloadavg()[0]}, "repeats": args.repeats, "rows": rows}  # fmt: skip
    lines = [
        "# Keyframe-only requests (pyav): packet + drain vs skip-non-key decoding",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"{res['machine']['load_avg_end']:.1f} at the end. Median of {args.repeats} alternating runs, same "
        "reader code, identical pixels. Baseline: skip-non-key decoding (the path before).",
        "",
        "| video | B-frames | keyframes | size px | now s (drain where B-frames) | skip-non-key s | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['video']} | {r['bframes']} | {r['keyframes']} | {r['size_px']} | {r['drain_s']} | "
            f"{r['skip_nonkey_s']} | **{r['speedup']}x** |"
        )
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.quick:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "keyframe_drain.json").write_text(json.dumps(res, indent=2) + "\n")
        (OUT / "keyframe_drain.md").write_text(md)


if __name__ == "__main__":
    main()
