"""Several questions about one video: one ``videopipe ask VIDEO Q1 Q2 Q3`` process against one
process per question (the baseline: each later question a new process reading the token cache,
the prompt's KV cache and the int8 weights from disk), measured in one run, taking turns.

The video and checkpoint are ``benchmarks/real_size.py``'s (the 1-hour 720p video, SmolVLM2-500M:
the published architecture with random weights), 16 frames, every other option at its default,
each way in a fresh cache dir. Answers are 128 tokens (random weights never end early).

    python benchmarks/several_questions.py [--rounds 2]

Writes benchmarks/results/several_questions.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import save_results  # noqa: E402
from benchmarks.real_size import QUESTION, RESULTS, SECOND, _env, _run, machine  # noqa: E402

THIRD = "What is written in the corner of the screen?"
QUESTIONS = (QUESTION, SECOND, THIRD)


def _ask(model: Path, video: Path, questions: tuple[str, ...], frames: int, cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "videopipe", "ask", str(video), *questions, "--model", str(model), "--json"]
    r = _run([*cmd, "--num-frames", str(frames)], _env(cache))
    out = json.loads(r.pop("stdout"))
    answers = out if isinstance(out, list) else [out]
    r["answers"] = [
        {"question": a["question"], "seconds": {k: round(v, 2) for k, v in a["stats"]["seconds"].items()}}
        for a in answers
    ]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smolvlm2-500m")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "several_questions"))
    args = ap.parse_args()

    from videopipe.config import default_cache_dir
    from videopipe.testing.real_size import build_real_model
    from videopipe.testing.videos import make_long_video

    model = build_real_model(args.model)
    video = make_long_video(3600.0, width=1280, height=720, repeat_of_s=60.0)
    work = default_cache_dir() / "several-questions-bench"
    rounds = []
    for i in range(args.rounds):
        one = work / "one-process"
        each = work / "process-each"
        for d in (one, each):
            shutil.rmtree(d, ignore_errors=True)
        together = _ask(model, video, QUESTIONS, args.frames, one)
        apart = [_ask(model, video, (q,), args.frames, each) for q in QUESTIONS]
        rounds.append({"one_process": together, "process_each": apart})
        print(
            f"[{time.strftime('%H:%M:%S')}] round {i + 1}: one process {together['wall_s']} s, "
            f"a process each {[a['wall_s'] for a in apart]} s",
            flush=True,
        )
    res = {
        "machine": machine(),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": args.model,
        "frames": args.frames,
        "questions": list(QUESTIONS),
        "rounds": rounds,
    }
    save_results(Path(args.out), res, markdown)


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# Several questions about one video (`benchmarks/several_questions.py`)",
        "",
        f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}; run {res['run_at']}. {res['model']} at real size "
        f"(random weights), {res['frames']} frames of the 1-hour 720p video, 128-token answers, every "
        "other option at its default, each way in a fresh cache dir. Wall seconds of whole processes.",
        "",
        "| round | one process, 3 questions | its answers' stages (s) | a process per question | total |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(res["rounds"], 1):
        t = r["one_process"]
        stages = "; ".join(
            f"Q{j}: " + ", ".join(f"{k} {v}" for k, v in a["seconds"].items() if v >= 0.05)
            for j, a in enumerate(t["answers"], 1)
        )
        apart = [a["wall_s"] for a in r["process_each"]]
        lines.append(
            f"| {i} | {t['wall_s']} | {stages} | {' + '.join(str(w) for w in apart)} | {sum(apart):.1f} |"
        )
    later_one = [
        statistics.mean(sum(a["seconds"].values()) for a in r["one_process"]["answers"][1:])
        for r in res["rounds"]
    ]
    later_apart = [statistics.mean(a["wall_s"] for a in r["process_each"][1:]) for r in res["rounds"]]
    lines += [
        "",
        f"A later question costs {min(later_one):.1f}-{max(later_one):.1f} s inside the one process (the sum "
        f"of its stages) against {min(later_apart):.1f}-{max(later_apart):.1f} s as a new process "
        "(which also imports torch and transformers and reads the model, the tokens and the KV cache).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
