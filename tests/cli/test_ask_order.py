"""``videopipe ask`` checks the video before it reads the model: a bad file fails at once and
the error names the file, not the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env
from tests.decode.helpers import gen_video


@pytest.fixture(scope="module")
def not_a_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("bad") / "notes.mp4"
    p.write_text("this is a text file, not a video\n" * 20)
    return p


@pytest.fixture(scope="module")
def no_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 whose header probes fine but whose frame data is missing."""
    full = gen_video("h264_bframes").read_bytes()
    p = tmp_path_factory.mktemp("bad") / "no_frames.mp4"
    p.write_bytes(full[: full.find(b"mdat") + 100])
    return p


def test_bad_file_is_named_even_when_the_model_cannot_load(videopipe, not_a_video: Path) -> None:
    r = videopipe("ask", str(not_a_video), "what happens?", "--model", "/no/such/model-dir")
    assert r.returncode == 2, r.stderr
    assert len(r.err_lines) == 1, r.stderr
    assert str(not_a_video) in r.err_lines[0] and "not a readable video" in r.err_lines[0]
    assert "/no/such/model-dir" not in r.stderr


def test_bad_file_fails_before_torch_or_the_model_is_imported(not_a_video: Path) -> None:
    code = (
        "import sys\n"
        "from videopipe.cli.app import main\n"
        f"code = main(['ask', {str(not_a_video)!r}, 'what?', '--model', 'fake'])\n"
        "print('EXIT', code, 'TORCH', 'torch' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "EXIT 2 TORCH False", r.stdout + r.stderr


def test_undecodable_file_fails_before_the_weights_load(monkeypatch, capsys, no_frames: Path) -> None:
    import videopipe.pipeline
    from videopipe.cli.app import main

    def no_loading(cfg: object) -> None:
        raise AssertionError("the model was loaded before the video was decoded")

    monkeypatch.setattr(videopipe.pipeline, "_load_model", no_loading)
    assert main(["ask", str(no_frames), "what?", "--model", "fake", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(no_frames) in err[0] and "0 decodable frames" in err[0], err
