"""`videopipe frames VIDEO --sampler NAME --num-frames N [--query TEXT] --json` for every sampler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from videopipe.cli.app import app
from videopipe.registry import SAMPLERS


@pytest.mark.parametrize("name", SAMPLERS.names())
@pytest.mark.parametrize("with_query", [False, True], ids=["plain", "query"])
def test_frames_json_for_every_sampler(name: str, with_query: bool, small_video: Path) -> None:
    args = ["frames", str(small_video), "--sampler", name, "--num-frames", "5", "--json", "--size", "56"]
    if with_query:
        args += ["--query", "when is the screen red?", "--embedder", "color"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["sampler"] == name and 1 <= len(out["frames"]) <= 5
    idx = [f["index"] for f in out["frames"]]
    assert idx == sorted(set(idx)) and max(idx) < 150
    assert sum(c["num_frames"] for c in out["clips"]) == len(idx)


def test_frames_writes_images_and_token_budget(small_video: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "frames",
            str(small_video),
            "-n",
            "4",
            "--sampler",
            "keyframe",
            "--out",
            str(tmp_path),
            "--size",
            "56",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list(tmp_path.glob("frame_*.jpg"))) == 4 and (tmp_path / "contact_sheet.png").is_file()
    res = CliRunner().invoke(
        app, ["frames", str(small_video), "-n", "20", "--max-tokens", "30", "--size", "56", "--json"]
    )
    assert res.exit_code == 0, res.output
    # 56x84 frames cost 2x3 = 6 tokens: a 30-token budget allows 5 frames
    assert len(json.loads(res.stdout)["frames"]) == 5


def test_unknown_sampler_lists_the_valid_ones(small_video: Path) -> None:
    from videopipe.cli.app import main

    assert main(["frames", str(small_video), "--sampler", "nope"]) == 2
