"""`videopipe batch` with the real Pipeline (scripted colour model): answers come from the videos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


def test_batch_runs_the_pipeline_per_video(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for k, color in enumerate(["red", "green", "blue"]):
        spec = scenes_video((12, 12, 12), needle=(1, color), width=112, height=56, seed=10 + k)
        shutil.copy(make_video(spec), folder / f"{color}.mp4")
    (folder / "empty.mp4").write_bytes(b"")
    out = tmp_path / "results.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "videopipe",
        "batch",
        str(folder),
        "--glob",
        "*.mp4",
        "--out",
        str(out),
        "-q",
        "What colour is the screen?",
        "-q",
        "Is it red?",
        "--model",
        "fake",
        "--num-frames",
        "8",
        "--size",
        "56",
        "--no-progress",
    ]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr  # the empty file failed
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 8
    by = {(Path(x["video"]).stem, x["question"]): x for x in recs}
    for color in ("red", "green", "blue"):
        rec = by[(color, "What colour is the screen?")]
        assert rec["status"] == "ok" and rec["answer"] == f"The screen is {color}."
        assert rec["stats"]["frames_selected"] == 8 and rec["evidence"]
    assert by[("empty", "Is it red?")]["status"] == "error"
    assert (
        "empty" in by[("empty", "Is it red?")]["error"]["message"].lower()
        or "0 bytes" in by[("empty", "Is it red?")]["error"]["message"]
    )
