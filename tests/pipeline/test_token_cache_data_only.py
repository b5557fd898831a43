"""Token-cache entries are data: tensors in safetensors, the rest in JSON. Whoever can write the
cache folder cannot run code in the next ``ask``: a pickle planted where an old-format entry
(``.pt``) or the current one would be runs nothing, and ``ask`` still answers (a miss). A
corrupt entry is a miss too."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from videopipe.cache import TokenCache
from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
from videopipe.testing.cli import run_installed
from videopipe.testing.tokens import make_tokens
from videopipe.testing.videos import make_video, scenes_video
from videopipe.types import Clip, Selection


class _Planted:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def video() -> Path:
    return make_video(scenes_video((20, 20), needle=(1, "blue"), width=112, height=56, seed=7))


def test_a_planted_pickle_runs_nothing_and_ask_still_answers(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("VIDEOPIPE_CACHE", str(cache))
    ask = ("ask", str(video), "What colour is the screen?", "--model", "fake", "-n", "4", "--size", "56")
    r = run_installed(*ask)
    assert r.returncode == 0 and "blue" in r.stdout, r.stderr
    (entry,) = (cache / "tokens").rglob("*.*")
    assert entry.suffix == ".safetensors"
    # the key of this ask, and the one an old-format (.pt) videopipe used for it
    cfg = PipelineConfig(model="fake", num_frames=4, size_px=56, cache_dir=str(cache))
    key = Pipeline(config=cfg, load_model=False).select_and_decode(video).cache_key
    assert entry.name == f"{key}.safetensors"
    monkeypatch.setattr(TokenCache, "version", 2)
    old = Pipeline(config=cfg, load_model=False).select_and_decode(video).cache_key
    monkeypatch.undo()
    monkeypatch.setenv("VIDEOPIPE_CACHE", str(cache))
    marker = tmp_path / "MARKER"
    planted = pickle.dumps(_Planted(marker))
    for p in (entry, entry.with_suffix(".pt"), cache / "tokens" / old[:2] / f"{old}.pt"):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(planted)
    r = run_installed(*ask, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "blue" in out["text"] and out["stats"]["cached"] is False  # a miss: decoded again
    assert not marker.exists(), "a token-cache entry ran code"
    assert set(load_file(entry)) >= {"features", "frame_idx"}  # the miss was written again


def _entry(tmp_path: Path) -> tuple[TokenCache, str]:
    """A saved entry (bf16 features, an extra, meta, a clip with size and score), read back equal."""
    t = make_tokens([(2, 3), (2, 3)], 8, seed=1, dtype=torch.bfloat16).with_meta(grid=(2, 3), note="x")
    sel = Selection((Clip(0.0, 0.5, (0, 1), (0.0, 0.5), size=(56, 56), score=0.5),), sampler="uniform")
    cache = TokenCache(tmp_path)
    key = "cd" * 20
    cache.save(key, t, sel)
    got = cache.load(key)
    assert got is not None
    tokens, selection = got
    assert tokens.features.dtype == torch.bfloat16 and torch.equal(tokens.features, t.features)
    assert torch.equal(tokens.extras["deep"], t.extras["deep"]) and torch.equal(tokens.row, t.row)
    assert torch.equal(tokens.time_s, t.time_s) and torch.equal(tokens.size, t.size)
    assert selection == sel and tokens.meta == {"grid": [2, 3], "note": "x"} and tokens.layout is None
    return cache, key


def test_a_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache, key = _entry(tmp_path)
    (path,) = tmp_path.rglob(f"{key}.*")
    good = path.read_bytes()
    tensors, meta = load_file(path), json.loads(_header(path)["videopipe"])
    bad_metadata = [
        "{not json",
        json.dumps({**meta, "frames_decoded": "many"}),
        json.dumps({**meta, "clips": [{"start_s": 0.0}]}),
        json.dumps({k: v for k, v in meta.items() if k != "sampler"}),
        json.dumps([meta]),
    ]
    for text in bad_metadata:
        save_file(tensors, path, metadata={"videopipe": text})
        assert cache.contains(key) and cache.load(key) is None, text
    save_file({**tensors, "row": tensors["row"][:-1]}, path, metadata={"videopipe": json.dumps(meta)})
    assert cache.load(key) is None  # tensors that do not fit together
    for damaged in (good[: len(good) // 2], b"", b"\xff" * 64, good[:8] + b"{" * 32):
        path.write_bytes(damaged)
        assert cache.load(key) is None
    path.write_bytes(good)
    assert cache.load(key) is not None


def _header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return dict(f.metadata())


def test_an_entry_that_is_a_symlink_is_a_miss(tmp_path: Path) -> None:
    """A link planted where an entry would be is not followed: the cache reads only files it
    wrote itself, never the file a link names (even a valid entry)."""
    cache, key = _entry(tmp_path / "cache")
    (path,) = (tmp_path / "cache").rglob(f"{key}.*")
    elsewhere = tmp_path / "elsewhere.safetensors"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    assert cache.load(key) is None
    path.unlink()
    elsewhere.rename(path)
    assert cache.load(key) is not None
