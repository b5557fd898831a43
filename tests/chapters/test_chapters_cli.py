"""``videopipe chapters`` through the installed executable, on generated lectures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.chapters.conftest import short_lecture
from videopipe.decode.probe import ffmpeg_bin
from videopipe.testing.lecture import boundary_f1


@pytest.mark.parametrize("seed", [3, 8])  # other topics, lengths, voice, slide half and timing
def test_boundaries_match_the_topics(videopipe, speech_installed, seed: int) -> None:
    path, lecture = short_lecture(seed)
    r = videopipe("chapters", str(path), "--json", "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    found = [c["start_s"] for c in data["chapters"][1:]]
    assert boundary_f1(found, lecture.boundaries, tolerance_s=10.0) >= 0.85, (found, lecture.boundaries)
    spans = [(c["start_s"], c["end_s"]) for c in data["chapters"]]
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(lecture.duration_s, abs=0.5)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(c["title"] for c in data["chapters"])


def test_youtube_vtt_and_ffmetadata_that_ffmpeg_embeds(videopipe, speech_installed, tmp_path: Path) -> None:
    path, _ = short_lecture(3)
    r = videopipe("chapters", str(path), "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("00:00 ") and all(ln[2] == ":" and ln[5] == " " for ln in lines)
    vtt = tmp_path / "c.vtt"
    assert videopipe("chapters", str(path), "--vtt", str(vtt), "--quiet").returncode == 0
    assert vtt.read_text().startswith("WEBVTT") and vtt.read_text().count(" --> ") == len(lines)
    meta = tmp_path / "chapters.txt"
    r = videopipe("chapters", str(path), "--ffmetadata", str(meta), "--quiet")
    assert r.returncode == 0 and r.stdout == ""
    out = tmp_path / "out.mp4"
    cmd = [
        ffmpeg_bin(),
        "-v",
        "error",
        "-i",
        str(path),
        "-i",
        str(meta),
        "-map_metadata",
        "1",
        "-c",
        "copy",
        str(out),
    ]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    ffprobe = str(Path(ffmpeg_bin()).with_name("ffprobe"))
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_chapters", "-of", "json", str(out)], capture_output=True
    )
    chapters = json.loads(probe.stdout)["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [ln[6:] for ln in lines]


def test_bad_input_is_one_line(videopipe, tmp_path: Path) -> None:
    path, _ = short_lecture(3)
    for args, words in (
        (("--titles", "fancy"), "'fancy' is not one of extract, model"),
        (("--titles", "model"), "--titles model needs --model"),
        (("--min-len", "60", "--max-len", "100"), "twice the min length"),
        (("--json", "--vtt", "x.vtt"), "choose one of"),
    ):
        r = videopipe("chapters", str(path), *args)
        assert r.returncode == 2 and len(r.err_lines) == 1 and words in r.err_lines[0], (args, r.stderr)
    missing = tmp_path / "none.mp4"
    r = videopipe("chapters", str(missing))
    assert r.returncode == 2 and str(missing) in r.err_lines[0] and "Traceback" not in r.stderr
