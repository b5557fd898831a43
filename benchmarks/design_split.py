"""No slowdown from the design split (issue 25): e2e, encode_once and retrieval on the code before
the split (the named baseline, ``--base``, default dce3555) and on the current code, back to back.

Each tree is extracted with ``git archive`` into ``--work`` and every benchmark runs as its own
script of that tree (``PYTHONPATH`` = the tree), so both sides run the same benchmark script (the
three scripts did not change in the split) on their own package. A round runs base then head; the
next round reverses the order, so a load that drifts during a round favours neither side. Wall
seconds, CPU seconds (user + sys, less sensitive to other load) and the load average at the start
of every run are recorded; the shared machine's load moves the wall times far more than the code
does, so compare within a round and the CPU seconds.

    flock /work/bench.lock python3 benchmarks/design_split.py --work /tmp/split   # run + summarise
    python3 benchmarks/design_split.py --work /tmp/split --collect-only               # summarise

Writes ``benchmarks/results/design_split.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: benchmark -> its arguments (retrieval: 10k and 100k vectors, the sizes below 20 minutes a side)
BENCHMARKS: dict[str, list[str]] = {
    "e2e": [],
    "encode_once": [],
    "retrieval": ["--sizes", "10000", "100000"],
}
TIME_LINE = re.compile(r"TIME (\S+) (\S+) (?:(r\d+) )?wall (\S+) user (\S+) sys (\S+) maxrss_kb (\d+)")
START_LINE = re.compile(r"== (\S+) (base|head) (?:(r\d+) )?(\d\d:\d\d:\d\d) load (\S+) (\S+) (\S+)")


def _extract(rev: str, into: Path) -> None:
    if into.exists():
        return
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def _run(work: Path, name: str, tree: str, tag: str, log: Path) -> None:
    src = work / tree
    out = work / f"{name}-{tree}-{tag}.json"
    args = list(BENCHMARKS[name])
    if name == "retrieval":
        args += ["--out", str(out)]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with open(log, "a") as f:
        f.write(f"== {name} {tree} {tag} {time.strftime('%H:%M:%S', time.gmtime())} load {load}\n")
    t0, c0 = time.perf_counter(), os.times()
    r = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *args],
        cwd=src,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
    )
    wall, c1 = time.perf_counter() - t0, os.times()
    if r.returncode != 0:
        raise SystemExit(f"{name} on {tree} failed:\n{r.stderr[-3000:]}")
    if name != "retrieval":
        out.write_text((src / "benchmarks" / "results" / f"{name}.json").read_text())
    user, sys_s = c1.children_user - c0.children_user, c1.children_system - c0.children_system
    with open(log, "a") as f:
        f.write(f"TIME {name} {tree} {tag} wall {wall:.2f} user {user:.2f} sys {sys_s:.2f} maxrss_kb 0\n")


def _times(log: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(benchmark, tree, round) -> wall, cpu seconds and the load at the start, from the log."""
    runs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line in log.read_text().splitlines():
        if m := START_LINE.match(line):
            key = (m[1], m[2], m[3] or "r1")
            runs.setdefault(key, {})["load_at_start"] = [float(m[5]), float(m[6]), float(m[7])]
            runs[key]["started_utc"] = m[4]
        elif m := TIME_LINE.match(line):
            key = (m[1], m[2], m[3] or "r1")
            runs.setdefault(key, {}).update(
                wall_s=float(m[4]), cpu_s=round(float(m[5]) + float(m[6]), 2), maxrss_mb=int(m[7]) // 1024
            )
    return runs


def _metrics(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one benchmark result that the comparison reads."""
    if name == "e2e":
        return {
            k: {"total_s": round(sum(v["stats"]["seconds"].values()), 2), **v["stats"]["seconds"]}
            for k, v in result["runs"].items()
        }
    if name == "encode_once":
        return {
            "prepare_wall_s": {p: [r["wall_s"] for r in rows] for p, rows in result["prepare"].items()},
            "encode_min_of_rounds_s": {
                p: round(m["pixels"] + m["vision"], 3) for p, m in result["encode_min_of_rounds"].items()
            },
            "pixel_prep_ratio": {k: v.get("ratio") for k, v in result["pixels"].items()},
        }
    rows = [r for r in result["rows"] if r["method"] == "auto"]
    return {
        f"{r['data']} {r['n']}": {
            "kind": r["kind"],
            "build_s": round(r["build_s"], 2),
            "ms_per_query": round(r["query_ms"], 3),
            "recall_at_10": round(r["recall_at_10"], 3),
        }
        for r in rows
    }


def collect(work: Path, base: str) -> dict[str, Any]:
    runs = _times(work / "bench.log")
    out: dict[str, Any] = {"benchmark": "design_split", "baseline": base, "current": "main", "runs": []}
    for (name, tree, tag), t in sorted(runs.items()):
        path = work / f"{name}-{tree}-{tag}.json"
        if "wall_s" not in t or not path.is_file():
            continue
        out["runs"].append(
            {
                "benchmark": name,
                "tree": tree,
                "round": tag,
                **t,
                "metrics": _metrics(name, json.loads(path.read_text())),
            }
        )
    return out


def _markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Design split (issue 25): no slowdown against the code before it",
        "",
        f"Baseline: `{res['baseline']}` (before the split); current: `{res['current']}` "
        f"({res.get('current_rev', '')}). Each run is the benchmark script of its own tree; a round "
        "is base then head (round 2: head then base). Shared 2-core machine: the load average at the "
        "start of each run is given, and moves wall times far more than the code does; CPU seconds "
        "(user + sys of the whole benchmark) are less sensitive to it.",
        "",
        "| benchmark | round | tree | load at start | wall s | CPU s | key numbers |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for r in res["runs"]:
        m = r["metrics"]
        if r["benchmark"] == "e2e":
            key = "; ".join(
                f"{k}: total {v['total_s']} s (encode {v['encode']:.1f}, generate {v['generate']:.1f})"
                for k, v in m.items()
            )
        elif r["benchmark"] == "encode_once":
            key = (
                f"encode min of rounds before/after {m['encode_min_of_rounds_s']['before']}/"
                f"{m['encode_min_of_rounds_s']['after']} s; prepare wall after {m['prepare_wall_s']['after']}"
            )
        else:
            key = "; ".join(
                f"{k}: {v['kind']} build {v['build_s']} s, {v['ms_per_query']} ms, r@10 {v['recall_at_10']}"
                for k, v in m.items()
                if k.split()[1] == "100000"
            )
        load = r.get("load_at_start", [0, 0, 0])
        lines.append(
            f"| {r['benchmark']} | {r['round']} | {r['tree']} | {load[0]:.1f} | {r['wall_s']:.0f} | "
            f"{r['cpu_s']:.0f} | {key} |"
        )
    lines += ["", *res.get("notes", [])]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="folder for the two trees, outputs and the log")
    ap.add_argument("--base", default="dce3555", help="the baseline revision (before the split)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=list(BENCHMARKS))
    ap.add_argument("--collect-only", action="store_true", help="summarise the runs already in --work")
    ap.add_argument("--notes", type=Path, help="a text file of notes for the markdown (one per line)")
    ap.add_argument("--current-rev", default=None, help="the revision the head tree holds (default: HEAD)")
    args = ap.parse_args()
    log = args.work / "bench.log"
    if not args.collect_only:
        _extract(args.base, args.work / "base")
        _extract("HEAD", args.work / "head")
        for name in args.only:
            for i in range(args.rounds):
                order = ("base", "head") if i % 2 == 0 else ("head", "base")
                for tree in order:
                    _run(args.work, name, tree, f"r{i + 1}", log)
    res = collect(args.work, args.base)
    res["current_rev"] = (
        args.current_rev
        or subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    )
    if args.notes:
        res["notes"] = [x for x in args.notes.read_text().splitlines()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "design_split.json").write_text(json.dumps(res, indent=2) + "\n")
    (RESULTS / "design_split.md").write_text(_markdown(res))
    print(_markdown(res))


if __name__ == "__main__":
    main()
