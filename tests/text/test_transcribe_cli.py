"""``videopipe transcribe`` through the installed executable (a subprocess, as users run it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env
from videopipe.testing.speech import word_error_rate
from videopipe.text.subtitles import parse_subtitles


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Its own transcript cache, so the first run really transcribes."""
    return cli_env(VIDEOPIPE_CACHE=str(tmp_path_factory.mktemp("cli-cache")))


def test_srt_file_parses_back_to_the_script(videopipe, spoken, env, asr_model, tmp_path: Path) -> None:
    path, script = spoken
    out = tmp_path / "talk.srt"
    r = videopipe("transcribe", str(path), "--srt", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # the subtitles went to the file
    cues = parse_subtitles(out.read_text(), fmt="srt")
    assert len(cues) == len(script.lines)
    assert word_error_rate(script.text, " ".join(c.text for c in cues)) <= 0.25  # as test_speech
    for c, want in zip(cues, script.lines):
        assert abs(c.start_s - want.start_s) <= 0.75 and abs(c.end_s - want.end_s) <= 0.75


def test_stdout_vtt_and_json(videopipe, spoken, env, asr_model, tmp_path: Path) -> None:
    path, _ = spoken
    srt = videopipe("transcribe", str(path), env=env)  # default: SRT on stdout (cached by now)
    assert srt.returncode == 0 and len(parse_subtitles(srt.stdout, fmt="srt")) == 4
    vtt = tmp_path / "t.vtt"
    r = videopipe("transcribe", str(path), "--vtt", str(vtt), env=env)
    assert r.returncode == 0 and vtt.read_text().startswith("WEBVTT")
    import json

    r = videopipe("transcribe", str(path), "--json", env=env)
    data = json.loads(r.stdout)
    assert data["video"] == str(path) and {ln["source"] for ln in data["lines"]} == {"speech"}


def test_no_audio_is_a_note_and_exit_0(videopipe, no_audio, env, asr_model) -> None:
    r = videopipe("transcribe", str(no_audio), env=env)
    assert r.returncode == 0 and r.stdout == ""
    assert r.err_lines == [f"videopipe: note: {no_audio}: no audio track"]


@pytest.mark.parametrize("kind", ["missing", "garbage"])
def test_a_bad_file_is_one_line_naming_it(videopipe, env, tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.mp4"
    if kind == "garbage":
        bad.write_bytes(b"\x00garbage" * 500)
    r = videopipe("transcribe", str(bad), env=env)
    assert r.returncode == 2, r.stderr  # bad input, like every single-file command
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("videopipe: error: ")
    assert str(bad) in r.err_lines[0] and "Traceback" not in r.stderr


def test_usage_errors(videopipe, spoken, env, tmp_path: Path) -> None:
    r = videopipe("transcribe", str(spoken[0]), "--srt", "a.srt", "--json", env=env)
    assert r.returncode == 2 and "choose one of --srt, --vtt and --json" in r.stderr
    r = videopipe("transcribe", str(tmp_path), env=env)
    assert r.returncode == 2 and "--out" in r.err_lines[0]
    r = videopipe("transcribe", str(spoken[0]), "--device", "tpu", env=env)
    assert r.returncode == 2 and "'tpu'" in r.err_lines[0]


def test_folder_is_resumable_and_a_bad_video_loses_nothing(
    videopipe, spoken, no_audio, env, asr_model, tmp_path: Path
) -> None:
    src = tmp_path / "videos"
    (src / "sub").mkdir(parents=True)
    shutil.copy(spoken[0], src / "talk.mp4")
    shutil.copy(no_audio, src / "sub" / "mute.mp4")
    (src / "broken.mp4").write_bytes(b"\x00garbage" * 500)
    out = tmp_path / "subs"
    r = videopipe("transcribe", str(src), "--out", str(out), env=env)
    assert r.returncode == 1, r.stderr  # one video failed
    assert [ln for ln in r.err_lines if "broken.mp4" in ln and "error" in ln]
    assert len(parse_subtitles((out / "talk.srt").read_text(), fmt="srt")) == 4
    assert (out / "sub" / "mute.srt").read_text() == ""  # no speech: an empty file, done
    assert "3 videos (2 transcribed, 0 already done, 1 failed)" in r.stdout
    (src / "broken.mp4").unlink()
    r = videopipe("transcribe", str(src), "--out", str(out), "--format", "vtt", env=env)
    assert r.returncode == 0 and "2 transcribed" in r.stdout
    r = videopipe("transcribe", str(src), "--out", str(out), "--format", "vtt", env=env)
    assert r.returncode == 0 and "0 transcribed, 2 already done" in r.stdout
