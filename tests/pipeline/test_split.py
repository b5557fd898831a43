"""The pipeline's two per-video stages: ``select_and_decode`` (CPU, no model) and
``prepare_from`` (the model); ``prepare`` is their composition."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
import torch

import videopipe.pipeline as pipeline_mod
from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, ModelError
from videopipe.pipeline import Decoded, Pipeline
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.videos import make_video, scenes_video


@pytest.fixture(scope="module")
def video() -> str:
    return str(make_video(scenes_video((20, 20, 20), needle=(1, "blue"), width=112, height=56, seed=5)))


def _cfg(tmp_path, **kw) -> PipelineConfig:
    return PipelineConfig(model="fake", num_frames=8, size_px=56, cache_dir=str(tmp_path), **kw)


@pytest.fixture()
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make loading the model fail loudly; the list records attempts."""
    attempts: list[str] = []

    def refuse(cfg: PipelineConfig) -> None:
        attempts.append(cfg.model)
        raise AssertionError("the CPU stage loaded the model")

    monkeypatch.setattr(pipeline_mod, "_load_model", refuse)
    return attempts


def _same_tokens(a, b) -> None:
    assert torch.equal(a.features, b.features) and torch.equal(a.frame_idx, b.frame_idx)
    assert torch.equal(a.time_s, b.time_s) and torch.equal(a.size, b.size)


def test_cpu_stage_needs_no_model_and_its_output_is_picklable(video, tmp_path, no_model_load) -> None:
    cfg = _cfg(tmp_path, cache_tokens=False)
    cpu = Pipeline(config=cfg, load_model=False)
    decoded = cpu.select_and_decode(video)
    assert no_model_load == [] and not cpu.model_loaded
    assert isinstance(decoded, Decoded) and not decoded.cached and decoded.cache_key is None
    assert sum(len(g) for g in decoded.groups) == decoded.selection.num_frames == 8
    assert decoded.groups[0].height == 56 and decoded.info.num_frames == 60
    assert {"decode", "sample"} <= set(decoded.seconds)
    back = pickle.loads(pickle.dumps(decoded))
    assert back.selection == decoded.selection and back.facts == decoded.facts
    assert all((a.data == b.data).all() for a, b in zip(back.groups, decoded.groups))
    # the budget comes from the facts, the same as from the loaded model
    assert cpu.budget == Pipeline(FakeVideoLLM(), config=cfg).budget


def test_prepare_is_the_composition_of_the_two_stages(video, tmp_path, monkeypatch) -> None:
    cfg = _cfg(tmp_path, cache_tokens=False)
    cpu = Pipeline(config=cfg, load_model=False)
    model_side = Pipeline(FakeVideoLLM(), config=cfg)
    split = model_side.prepare_from(pickle.loads(pickle.dumps(cpu.select_and_decode(video))))
    whole = Pipeline(FakeVideoLLM(), config=cfg).prepare(video)
    _same_tokens(split.tokens, whole.tokens)
    assert split.selection == whole.selection and split.frames_decoded == whole.frames_decoded
    assert {"decode", "sample", "encode"} <= set(split.seconds)
    q = "What colour is the screen?"
    a, b = model_side.answer(split, q), model_side.answer(whole, q)
    assert a.text == b.text == "The screen is blue." and a.evidence == b.evidence


def test_lazy_model_loads_on_first_model_stage(video, tmp_path, monkeypatch) -> None:
    loads: list[str] = []
    real = pipeline_mod._load_model

    def counting(cfg: PipelineConfig):
        loads.append(cfg.model)
        return real(cfg)

    monkeypatch.setattr(pipeline_mod, "_load_model", counting)
    pipe = Pipeline(config=_cfg(tmp_path, cache_tokens=False), load_model=False)
    decoded = pipe.select_and_decode(video)
    assert loads == []
    assert pipe.answer(pipe.prepare_from(decoded), "Is it blue?").text == "The screen is blue."
    assert loads == ["fake"] and pipe.model_loaded


@pytest.mark.parametrize("cached", [False, True])
def test_a_lazy_model_load_is_its_own_stage(video, tmp_path, monkeypatch, cached) -> None:
    real = pipeline_mod._load_model

    def slow(cfg: PipelineConfig):
        time.sleep(1.0)
        return real(cfg)

    monkeypatch.setattr(pipeline_mod, "_load_model", slow)
    if cached:  # the tokens come from the cache: the model loads in answer (generate) only
        Pipeline(config=_cfg(tmp_path)).prepare(video)
    pipe = Pipeline(config=_cfg(tmp_path, cache_tokens=cached), load_model=False)
    answer = pipe.ask(video, "Is it blue?")
    seconds = dict(answer.stats.seconds)
    assert answer.stats.cached is cached
    assert seconds.pop("load") >= 1.0  # the wait for the weights, and nowhere else
    assert sum(seconds.values()) < 1.0, answer.stats.seconds
    assert 0 <= answer.stats.first_token_s <= seconds["generate"]


def test_preload_loads_while_the_video_decodes(video, tmp_path, monkeypatch) -> None:
    real = pipeline_mod._load_model
    loads = []

    def slow(cfg: PipelineConfig):
        time.sleep(1.0)
        loads.append(threading.current_thread().name)
        return real(cfg)

    monkeypatch.setattr(pipeline_mod, "_load_model", slow)
    pipe = Pipeline(config=_cfg(tmp_path, cache_tokens=False), load_model=False)
    pipe.preload()
    pipe.preload()  # already loading: no second load
    assert pipeline_mod.model_loading()
    time.sleep(1.2)  # the load finishes while "decoding"
    answer = pipe.ask(video, "Is it blue?")
    assert answer.text == "The screen is blue." and loads == [pipeline_mod.MODEL_LOAD_THREAD]
    assert answer.stats.seconds.get("load", 0.0) < 0.5  # nothing left to wait for
    assert not pipeline_mod.model_loading()


def test_a_failed_preload_is_raised_where_the_model_is_needed(video, tmp_path, monkeypatch) -> None:
    def broken(cfg: PipelineConfig):
        raise ModelError("no such checkpoint: fake")

    monkeypatch.setattr(pipeline_mod, "_load_model", broken)
    pipe = Pipeline(config=_cfg(tmp_path, cache_tokens=False), load_model=False)
    pipe.preload()
    decoded = pipe.select_and_decode(video)  # decoding does not need the model
    with pytest.raises(ModelError, match="no such checkpoint"):
        pipe.prepare_from(decoded)
    # the next use tries again (the error is not kept forever)
    with pytest.raises(ModelError, match="no such checkpoint"):
        pipe.model  # noqa: B018


def test_frames_for_another_geometry_are_refused(video, tmp_path) -> None:
    cfg = _cfg(tmp_path, cache_tokens=False)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    other = Pipeline(FakeVideoLLM(token_px=14), config=cfg)
    with pytest.raises(ConfigError, match="geometry"):
        other.prepare_from(decoded)


def test_cached_tokens_skip_decoding_in_the_cpu_stage(video, tmp_path, monkeypatch, no_model_load) -> None:
    cfg = _cfg(tmp_path)
    first = Pipeline(FakeVideoLLM(), config=cfg).prepare(video)  # fills the token cache
    assert not first.cached

    import videopipe.decode as decode_mod

    def no_decoding(*a, **k):
        raise AssertionError("decoded a video whose tokens are cached")

    monkeypatch.setattr(decode_mod, "open_video", no_decoding)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    assert decoded.cached and decoded.groups == () and decoded.frames_decoded == 0
    assert decoded.cache_key is not None and no_model_load == []
    monkeypatch.undo()  # the model stage may load the model now
    again = Pipeline(FakeVideoLLM(), config=cfg).prepare_from(decoded)
    assert again.cached and again.selection.clips == first.selection.clips
    _same_tokens(again.tokens, first.tokens)


def test_a_cache_entry_lost_after_the_cpu_stage_is_decoded_by_the_model_stage(video, tmp_path) -> None:
    cfg = _cfg(tmp_path)
    model_side = Pipeline(FakeVideoLLM(), config=cfg)
    first = model_side.prepare(video)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    assert decoded.cached
    for p in (tmp_path / "tokens").rglob("*.safetensors"):
        p.write_bytes(b"not a cache entry")  # corrupt after the CPU stage looked
    again = model_side.prepare_from(decoded)
    assert not again.cached and again.frames_decoded == first.frames_decoded
    _same_tokens(again.tokens, first.tokens)
