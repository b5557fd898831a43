"""What the executable says about paths that are not video files: a FIFO or a directory where a
file is expected, a cover-art-only MP4, a file ffprobe cannot read (no banner in the reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.decode.helpers import gen_video

ROOT = Path(__file__).resolve().parents[2]
EXE = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))


def _run(*args: str) -> tuple[int, list[str]]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    r = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln.strip()]


@pytest.fixture
def fifo(tmp_path) -> Path:
    p = tmp_path / "pipe.mp4"
    os.mkfifo(p)
    return p


def test_a_fifo_given_as_the_video_says_it_is_a_fifo(fifo):
    code, lines = _run("info", str(fifo))
    assert code == 2 and len(lines) == 1
    assert str(fifo) in lines[0] and "is a FIFO (named pipe)" in lines[0]
    assert "does not exist" not in lines[0]


@pytest.mark.parametrize("kind", ["fifo", "dir"])
def test_a_fifo_or_a_directory_given_as_a_config_file_says_what_it_is(kind, fifo, tmp_path):
    target = fifo if kind == "fifo" else tmp_path
    code, lines = _run("frames", str(gen_video("h264")), "--config", str(target))
    assert code == 2 and len(lines) == 1
    want = "is a FIFO (named pipe)" if kind == "fifo" else "is a directory"
    assert f"config file {target} {want}" in lines[0]
    assert "does not exist" not in lines[0]


def test_a_cover_art_only_mp4_says_it_has_only_cover_art(tmp_path):
    path = tmp_path / "song.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi", "-i"]
        + ["color=c=red:s=64x64:d=0.04", "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-c:v", "mjpeg"]
        + ["-frames:v", "1", "-disposition:v:0", "attached_pic", str(path)],
        check=True,
    )
    code, lines = _run("info", str(path))
    assert code == 2 and len(lines) == 1
    assert "only cover art" in lines[0] and "other streams: audio)" in lines[0]
    assert "streams: audio, video" not in lines[0]


def test_the_reason_ffprobe_gives_is_not_its_banner(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    code, lines = _run("info", str(path))
    assert code == 2 and len(lines) == 1
    assert "not a readable video file (ffprobe: " in lines[0]
    for banner in ("ffprobe version", "Copyright", "configuration:", "built with"):
        assert banner not in lines[0]
