"""``videopipe compare`` through the installed executable, with the scripted fake model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videopipe.testing.videos import make_video, scenes_video


@pytest.fixture(scope="module")
def small_video() -> Path:
    return make_video(scenes_video((20, 20, 20), width=112, height=84))


def test_compare_prints_the_metrics_table_and_json(videopipe, small_video: Path, tmp_path: Path) -> None:
    args = ["compare", str(small_video), "--model", "fake", "-n", "8", "--no-cache"]
    specs = "temporal_merge,progressive[per_frame_budget=0,threshold=0.8]"
    r = videopipe(*args, "--compressors", specs, "--budgets", "10,50")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "visual tokens" in lines[0] and lines[1].startswith(
        "budget | method | tokens | mean cov | p5 frame cov"
    )
    assert len(lines) == 2 + 2 * 3  # 2 budgets x (drop_frames + 2 compressors)
    assert sum("progressive[per_frame_budget=0,threshold=0.8]" in ln for ln in lines) == 2
    assert "needle" not in lines[1]
    plot = tmp_path / "cmp.png"
    r = videopipe(
        *args,
        "-c",
        "static_prune+segment_merge",
        "-b",
        "25",
        "--events",
        "0.9-1.5",
        "--json",
        "--plot",
        str(plot),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tokens"] > 0 and out["events_s"] == [[0.9, 1.5]]
    methods = [row["method"] for row in out["rows"]]
    assert methods == ["drop_frames", "static_prune+segment_merge"]
    for row in out["rows"]:
        assert row["tokens_out"] <= row["budget"] and 0.0 <= row["needle_score"] <= 1.0
        assert row["p5_coverage"] <= row["mean_coverage"] + 1e-9 and row["ms_per_10k_tokens"] >= 0
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--compressors", "bogus"], "unknown compressor 'bogus'"),
        (["--compressors", "progressive[per_frame_budget=x]"], "per_frame_budget='x' must be an integer"),
        (["--budgets", "0"], "--budgets: 0 is not a percent"),
        (["--budgets", "ten"], "--budgets: 'ten' is not a number"),
        (["--events", "5"], "--events: '5' is not START-END"),
        (["--events", "500-600"], "--events: no sampled frame lies in the given spans"),
    ],
)
def test_compare_errors_are_one_stderr_line(
    videopipe, small_video: Path, extra: list[str], message: str
) -> None:
    r = videopipe("compare", str(small_video), "--model", "fake", "-n", "4", "--no-cache", *extra)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.err_lines) == 1 and message in r.err_lines[0], r.stderr


def test_compare_missing_video_is_one_line(videopipe, tmp_path: Path) -> None:
    r = videopipe("compare", str(tmp_path / "nope.mp4"), "--model", "fake")
    assert r.returncode == 2 and len(r.err_lines) == 1 and "nope.mp4" in r.err_lines[0]
