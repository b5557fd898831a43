"""`videopipe frames VIDEO --sampler NAME --num-frames N [--query TEXT] --json` for every sampler."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.mark.parametrize("name", ["uniform", "keyframe", "keyclip", "space_aware"])
def test_frames_command_never_imports_torch(name: str, small_video: Path, tmp_path: Path) -> None:
    # Importing torch costs ~2 CPU-s, more than decoding 64 frames of an hour-long video:
    # decode -> sample -> save must stay torch-free (Frames are numpy-backed on the CPU).
    code = (
        "import sys\n"
        "from videopipe.cli.app import main\n"
        f"sys.argv = ['videopipe', 'frames', {str(small_video)!r}, '-n', '4', '--sampler', {name!r},\n"
        f"            '--size', '56', '--out', {str(tmp_path)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "TORCH False"
    assert len(list(tmp_path.glob("frame_*.jpg"))) == 4 and (tmp_path / "contact_sheet.png").exists()


_TORCH_FREE_READ = """
import sys
from videopipe.decode import open_video
from videopipe.registry import SAMPLERS
from videopipe.types import Budget, Frames
video, backend = sys.argv[1:]
with open_video(video, backend=backend) as r:
    for name in ("uniform", "keyframe", "keyclip", "space_aware"):
        sel = SAMPLERS.create(name)(r, Budget(num_frames=6, size_px=56))
        f = r.frames_at(sel.indices, size=56)
        assert list(f.index_array) == list(sel.indices), name
        f.pts_array, f.array, f.clip_array, f[1:3], f[[0, 2]], f[f.index_array > 0], repr(f)
        Frames.concat([f, f]), r.frames_at_times([0.0, 1.0], size=56)
    print(r.info.backend, "TORCH", "torch" in sys.modules)
"""


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_reading_sampling_and_numpy_fields_never_import_torch(backend: str, small_video: Path) -> None:
    # Frames.indices / pts_s / clip_ids / data are torch tensors (the documented API, used by
    # the models); index_array / pts_array / clip_array / array are their torch-free twins
    pytest.importorskip(backend if backend != "pyav" else "av")
    res = subprocess.run(
        [sys.executable, "-c", _TORCH_FREE_READ, str(small_video), backend], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [backend, "TORCH", "False"], res.stdout
