"""The prefix cache on disk (``videopipe.prefix_store``): a second question about the same video,
asked by a new process (a new cache object over the same folder), prefills only its question
and answers as a whole prefill does; a file that is corrupt, of another model, of the wrong
shape or a symlink is a miss, never an error; the folder stays within its budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models._vlm_helpers import make_frames
from videopipe.models.contract import GenerationOptions
from videopipe.prefix_store import DiskPrefixCache

GREEDY = GenerationOptions(max_new_tokens=8)
FIRST, SECOND = "What colour is it?", "How many people are there?"


def _disk(ad: Any, root: Path, **kw: Any) -> DiskPrefixCache:
    return DiskPrefixCache(root, model_key=kw.pop("model_key", ad.model_id), shape=ad.kv_shape(), **kw)


def _ask(ad: Any, tokens: Any, question: str, cache: DiskPrefixCache | None) -> tuple[list[int], Any]:
    ad.prefix_cache = cache
    try:
        return list(ad._token_ids(tokens, question, GREEDY)), ad.last_generation
    finally:
        ad.prefix_cache = None


def test_a_new_process_continues_from_the_file_and_answers_the_same(
    adapters: dict[str, Any], family: str, tmp_path: Path
) -> None:
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4))
    whole, _ = _ask(ad, tokens, SECOND, None)
    _, first = _ask(ad, tokens, FIRST, _disk(ad, tmp_path))
    assert first.cached_tokens == 0 and len(list(tmp_path.glob("*/*.safetensors"))) == 1
    later = _disk(ad, tmp_path)  # a new process: nothing in memory
    reused, gen = _ask(ad, tokens, SECOND, later)
    assert reused == whole
    last_visual = int(ad.build_inputs(tokens, SECOND).visual_mask.nonzero()[-1])
    assert last_visual < gen.cached_tokens < gen.prompt_tokens
    assert later.stats()["disk_hits"] == 1


def test_other_tokens_or_another_model_key_do_not_open_the_file(
    adapters: dict[str, Any], tmp_path: Path
) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    _ask(ad, tokens, FIRST, _disk(ad, tmp_path))
    other = ad.encode(make_frames("smolvlm", 2, seed=1))
    assert _ask(ad, other, FIRST, _disk(ad, tmp_path))[1].cached_tokens == 0
    assert _ask(ad, tokens, FIRST, _disk(ad, tmp_path, model_key="another"))[1].cached_tokens == 0
    assert _ask(ad, tokens, FIRST, _disk(ad, tmp_path))[1].cached_tokens > 0


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape", "symlink"])
def test_a_bad_file_is_a_miss(adapters: dict[str, Any], tmp_path: Path, damage: str) -> None:
    from safetensors.torch import load_file, save_file

    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    whole, _ = _ask(ad, tokens, SECOND, None)
    _ask(ad, tokens, FIRST, _disk(ad, tmp_path / "kv"))
    (path,) = (tmp_path / "kv").glob("*/*.safetensors")
    if damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "wrong_shape":  # consistent with itself, not with the model: must not reach attention
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
        tensors = load_file(path)
        tensors["k.0"] = torch.cat([tensors["k.0"], tensors["k.0"]], dim=1)
        save_file(tensors, path, metadata=meta)
    else:
        elsewhere = tmp_path / "elsewhere.safetensors"
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    reused, gen = _ask(ad, tokens, SECOND, _disk(ad, tmp_path / "kv"))
    assert gen.cached_tokens == 0 and reused == whole


def test_the_folder_stays_within_its_budget(adapters: dict[str, Any], tmp_path: Path) -> None:
    ad = adapters["smolvlm"]
    frames = make_frames("smolvlm", 2)
    _ask(ad, ad.encode(frames), FIRST, _disk(ad, tmp_path))
    (one,) = tmp_path.glob("*/*.safetensors")
    budget = int(one.stat().st_size * 1.5)  # room for one file, not two
    _ask(ad, ad.encode(make_frames("smolvlm", 2, seed=1)), FIRST, _disk(ad, tmp_path, budget_bytes=budget))
    left = list(tmp_path.glob("*/*.safetensors"))
    assert len(left) == 1 and left[0] != one


def test_a_second_question_keeps_the_file_of_the_first(adapters: dict[str, Any], tmp_path: Path) -> None:
    """The file already holds the video's prefix: a second question (in this process or a new
    one) reads it and writes nothing; another video's question writes its own file."""
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    _ask(ad, tokens, FIRST, _disk(ad, tmp_path))
    (path,) = tmp_path.glob("*/*.safetensors")
    inode = path.stat().st_ino  # an atomic rewrite would put a new file (a new inode) there
    for _ in range(2):  # two new processes
        cache = _disk(ad, tmp_path)
        _, gen = _ask(ad, tokens, SECOND, cache)
        assert gen.cached_tokens > 0
        _, again = _ask(ad, tokens, FIRST, cache)  # the same cache: a memory hit covers the video
        assert again.cached_tokens > 0
    assert path.stat().st_ino == inode and list(tmp_path.glob("*/*.safetensors")) == [path]
    _ask(ad, ad.encode(make_frames("smolvlm", 2, seed=1)), SECOND, _disk(ad, tmp_path))
    assert len(list(tmp_path.glob("*/*.safetensors"))) == 2


def test_memory_holds_only_the_last_video(adapters: dict[str, Any], tmp_path: Path) -> None:
    """A batch over many videos keeps one KV cache in RAM; the others are on disk."""
    ad = adapters["smolvlm"]
    cache = _disk(ad, tmp_path)
    for seed in range(3):
        _ask(ad, ad.encode(make_frames("smolvlm", 2, seed=seed)), FIRST, cache)
    assert len(cache) == 1 and len(list(tmp_path.glob("*/*.safetensors"))) == 3
    # the first video's cache comes back from its file
    _, gen = _ask(ad, ad.encode(make_frames("smolvlm", 2, seed=0)), SECOND, cache)
    assert gen.cached_tokens > 0 and cache.stats()["disk_hits"] == 1 and len(cache) == 1


def test_the_pipeline_keeps_prefixes_on_disk_and_the_server_does_not(
    tiny_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import _load_model

    base = PipelineConfig(model=str(tiny_dirs["smolvlm"]), device="cpu", cache_dir=str(tmp_path))
    model = _load_model(base)
    assert isinstance(model.prefix_cache, DiskPrefixCache)
    assert model.prefix_cache.root == tmp_path / "prefix-kv"
    for off in ({"cache_tokens": False}, {"disk_kv_cache_mb": 0}):
        assert _load_model(base.with_overrides(**off)).prefix_cache is None


def test_a_full_disk_costs_the_file_not_the_answer(
    adapters: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """safetensors reports a full disk as SafetensorError: the answer still comes, nothing is
    left in the folder, and the entry stays in memory."""
    import safetensors.torch
    from safetensors import SafetensorError

    def full(tensors: Any, filename: str, metadata: Any = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    whole, _ = _ask(ad, tokens, FIRST, None)
    monkeypatch.setattr(safetensors.torch, "save_file", full)
    cache = _disk(ad, tmp_path)
    answer, _ = _ask(ad, tokens, FIRST, cache)
    assert answer == whole and len(cache) == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
