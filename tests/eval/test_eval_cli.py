"""``videopipe eval`` end to end with the scripted colour model: exact expected accuracy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mc_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """5 items: 2 answerable and keyed right, 1 keyed against what the video shows, 1 video
    without a needle (the model cannot tell), 1 corrupt video (error record)."""
    root = tmp_path_factory.mktemp("mc")
    vids = root / "videos"
    vids.mkdir()
    for name, color in [("red", "red"), ("green", "green"), ("blue", "blue")]:
        spec = scenes_video((12, 12, 12), needle=(1, color), width=112, height=56, seed=3)
        shutil.copy(make_video(spec), vids / f"{name}.mp4")
    shutil.copy(make_video(scenes_video((12, 12), width=112, height=56, seed=4)), vids / "plain.mp4")
    (vids / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    q = "What colour is the screen in the middle of the video?"
    opts = ["green", "red", "blue", "yellow"]
    rows = [
        {
            "id": "r",
            "video": "red.mp4",
            "question": q,
            "options": opts,
            "answer": "B",
            "category": "color",
            "duration": "short",
        },
        {
            "id": "g",
            "video": "green.mp4",
            "question": q,
            "options": opts,
            "answer": "A",
            "category": "color",
            "duration": "short",
        },
        # keyed wrong on purpose: the video shows blue (C), the key says yellow (D)
        {
            "id": "b",
            "video": "blue.mp4",
            "question": q,
            "options": opts,
            "answer": "D",
            "category": "trap",
            "duration": "short",
        },
        {
            "id": "p",
            "video": "plain.mp4",
            "question": q,
            "options": opts,
            "answer": "A",
            "category": "trap",
            "duration": "long",
        },
        {
            "id": "x",
            "video": "broken.mp4",
            "question": q,
            "options": opts,
            "answer": "A",
            "category": "color",
            "duration": "long",
        },
    ]
    ds = root / "set.jsonl"
    ds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return ds, vids


def _eval(ds: Path, vids: Path, out: Path, style: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "videopipe",
        "eval",
        "--dataset",
        str(ds),
        "--videos",
        str(vids),
        "--out",
        str(out),
        "--model",
        f"fake:{style}",
        "--num-frames",
        "8",
        "--size",
        "56",
        "--no-progress",
        "--json",
    ]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("style", ["sentence", "paren"])
def test_eval_reports_exact_accuracy(mc_set, tmp_path, style: str) -> None:
    ds, vids = mc_set
    out = tmp_path / "eval.jsonl"
    r = _eval(ds, vids, out, style)
    assert r.returncode == 1, r.stderr  # one item errored
    summary = json.loads(r.stdout)
    assert (summary["items"], summary["correct"], summary["errors"]) == (5, 2, 1)
    assert summary["accuracy"] == 40.0
    assert summary["per_category"] == {
        "color": {"accuracy": 66.67, "items": 3},
        "trap": {"accuracy": 0.0, "items": 2},
    }
    assert summary["per_duration"]["short"] == {"accuracy": 66.67, "items": 3}
    recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert recs["b"]["choice"] == "C" and not recs["b"]["correct"]  # parsed, but keyed otherwise
    assert recs["p"]["choice"] is None  # "I cannot tell" counts as wrong, not a crash
    assert recs["x"]["error"].startswith(("DecodeError", "UnsupportedVideoError"))
    assert recs["r"]["visual_tokens"] > 0
    # a rerun continues: nothing is asked again, the same summary comes out
    r2 = _eval(ds, vids, out, style)
    assert json.loads(r2.stdout)["accuracy"] == 40.0
    answers = out.with_name("eval.answers.jsonl").read_text().splitlines()
    assert len(answers) == 5
