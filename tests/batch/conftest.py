"""Fixtures for the batch tests: a folder of tiny generated videos with bad files mixed in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _make_folder(root: Path) -> Path:
    from videopipe.testing.videos import make_video, scenes_video

    src = make_video(scenes_video((8, 8), seed=7, width=96, height=64, gop=8))
    folder = root / "videos"
    (folder / "sub" / "deeper").mkdir(parents=True)
    for i in range(9):
        sub = folder if i < 4 else (folder / "sub" if i < 7 else folder / "sub" / "deeper")
        shutil.copy(src, sub / f"good{i:02d}.mp4")
    rng = __import__("random").Random(0)
    (folder / "corrupt_random.mp4").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (folder / "sub" / "corrupt_truncated.mp4").write_bytes(src.read_bytes()[:300])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 .mp4 files: 9 good (in nested folders), 2 corrupt, 1 empty; plus a .txt to ignore."""
    return _make_folder(tmp_path_factory.mktemp("batch"))


@pytest.fixture()
def fakes_on_path(monkeypatch: pytest.MonkeyPatch) -> str:
    """PYTHONPATH for subprocesses (and Ray workers): this worktree + the fake runners."""
    path = os.pathsep.join(
        [str(ROOT), str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    monkeypatch.setenv("PYTHONPATH", path)
    return path
