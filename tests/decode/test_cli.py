"""`videopipe info` on good and bad input (exit codes, one-line errors, --debug tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.decode.helpers import gen_video

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videopipe", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_info_json_describes_the_decoded_video():
    p = run_cli("info", str(gen_video("audio_first")), "--json", "--backend", "pyav")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["num_frames"] == 150
    assert (info["width"], info["height"]) == (160, 96)
    assert info["backend"] == "pyav"
    assert info["has_audio"] is True
    assert info["fps"] == pytest.approx(25.0)


def test_info_text_output():
    from typer.testing import CliRunner

    from videopipe.cli.app import app

    res = CliRunner().invoke(app, ["info", str(gen_video("rot90"))])
    assert res.exit_code == 0, res.output
    assert "rotation: 90" in res.output
    assert "width: 96" in res.output


@pytest.mark.parametrize("kind", ["missing", "text"])
def test_info_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, kind):
    path = tmp_path / "clip.avi"
    if kind == "text":
        path.write_text("not a video\n")
    p = run_cli("info", str(path))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert str(path) in lines[0] and lines[0].startswith("videopipe: error:")
    assert "Traceback" not in p.stderr


def test_info_debug_shows_the_traceback(tmp_path):
    p = run_cli("--debug", "info", str(tmp_path / "nope.mp4"))
    assert p.returncode == 2
    assert "Traceback" in p.stderr and "VideoNotFoundError" in p.stderr


def test_info_unknown_backend_exits_2():
    p = run_cli("info", str(gen_video("h264")), "--backend", "nope")
    assert p.returncode == 2
    assert "valid names" in p.stderr and "pyav" in p.stderr
