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
    """The real console entry point in a fresh interpreter (exit code, stdout, stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "videopipe", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """``videopipe.cli.app.main`` in this process (same code path as the console script)."""
    from videopipe.cli import common
    from videopipe.cli.app import main

    def run(*args: str) -> _Result:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        common.STATE.debug = False
        return _Result(code, out.out, out.err)

    return run


def test_info_json_describes_the_decoded_video(cli):
    p = cli("info", str(gen_video("audio_first")), "--json", "--backend", "pyav")
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
def test_info_bad_input_exits_2_with_one_line_and_no_traceback(cli, tmp_path, kind):
    path = tmp_path / "clip.avi"
    if kind == "text":
        path.write_text("not a video\n")
    p = cli("info", str(path))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert str(path) in lines[0] and lines[0].startswith("videopipe: error:")
    assert "Traceback" not in p.stderr


def test_info_debug_shows_the_traceback(tmp_path):
    # the console script itself, in a fresh interpreter
    p = run_cli("--debug", "info", str(tmp_path / "nope.mp4"))
    assert p.returncode == 2
    assert "Traceback" in p.stderr and "VideoNotFoundError" in p.stderr
    q = run_cli("info", str(tmp_path / "nope.mp4"))
    assert q.returncode == 2 and "Traceback" not in q.stderr and len(q.stderr.strip().splitlines()) == 1


def test_info_unknown_backend_exits_2(cli):
    p = cli("info", str(gen_video("h264")), "--backend", "nope")
    assert p.returncode == 2
    assert "valid names" in p.stderr and "pyav" in p.stderr


@pytest.mark.parametrize("name", ["vfr_h264", "rot90"])
def test_frames_writes_the_frames_it_lists(cli, tmp_path, name):
    import numpy as np
    from PIL import Image

    from videopipe.testing.videos import read_frame_number

    out = tmp_path / "frames"
    p = cli(
        "frames",
        str(gen_video(name)),
        "-n",
        "6",
        "--sampler",
        "uniform",
        "--size",
        "96",
        "--json",
        "--out",
        str(out),
    )
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout[: p.stdout.rindex("}") + 1])["frames"]
    assert len(rows) == 6
    jpgs = sorted(out.glob("frame_*.jpg"))
    assert len(jpgs) == 6 and (out / "contact_sheet.png").is_file()
    for row, jpg in zip(rows, jpgs):
        arr = np.asarray(Image.open(jpg).convert("RGB"))
        if name == "rot90":
            assert arr.shape[0] > arr.shape[1]  # upright portrait
            arr = np.rot90(arr, -1)
        assert read_frame_number(arr) == row["index"]
        assert jpg.name.startswith(f"frame_{row['index']:08d}")


def test_frames_bad_input_exits_2(cli, tmp_path):
    p = cli("frames", str(tmp_path / "missing.mp4"), "-n", "4")
    assert p.returncode == 2 and "no such file" in p.stderr
