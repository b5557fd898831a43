"""Index messages (issue 23): a tampered videopipe-index.json is named in the error, and a
captioning model that cannot be found fails once, before any video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_error


@pytest.fixture
def index_dir(videopipe, video: Path, tmp_path: Path) -> Path:
    ix = tmp_path / "ix"
    r = videopipe("index", str(video), "--index", str(ix), "-q")
    assert r.returncode == 0, r.stderr
    return ix


def _edit_config(index_dir: Path, key: str, value: object, *, with_snapshot_copy: bool = True) -> None:
    """Set ``key`` of the config in videopipe-index.json and, unless told otherwise, in its copy in
    every snapshot (one edited alone is damage the store repairs from the other)."""
    copies = index_dir.glob("snapshots/*.json") if with_snapshot_copy else ()
    for path in (index_dir / "videopipe-index.json", *copies):
        data = json.loads(path.read_text())
        data["config"][key] = value
        path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("embedder", "nope", "embedder 'nope', which is not a registered"),
        ("embedder_options", {"bad": 1}, "'bad'"),
    ],
)
def test_tampered_index_config_is_named(
    videopipe, index_dir: Path, key: str, value: object, needle: str
) -> None:
    _edit_config(index_dir, key, value)
    assert_one_error(videopipe("search", "--index", str(index_dir), "what?"), "videopipe-index.json", needle)


def test_config_differing_from_its_snapshot_copy_is_damage(videopipe, index_dir: Path) -> None:
    _edit_config(index_dir, "embedder", "nope", with_snapshot_copy=False)
    r = videopipe("search", "--index", str(index_dir), "what?")
    assert_one_error(r, "videopipe-index.json differs from the copy", "'nope'")


def test_tampered_segmentation_is_named_by_index(videopipe, index_dir: Path, video: Path) -> None:
    _edit_config(index_dir, "segmentation", "bogus")
    config = index_dir / "videopipe-index.json"
    assert_one_error(videopipe("index", str(video), "--index", str(index_dir), "-q"), str(config), "bogus")


def test_captions_model_missing_fails_once(videopipe, video: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(video, folder / name)
    r = videopipe(
        "index", str(folder), "--index", str(tmp_path / "ix"), "-q", "--captions", "nobody/no-such-model"
    )
    assert_one_error(r, "nobody/no-such-model")
    assert not (tmp_path / "ix" / "videopipe-index.json").exists()  # nothing was indexed
