"""The machine's default model and frame budget: without a CUDA GPU ``ask`` uses the CPU default
(chosen by measurement, docs/models.md), with one the larger default; ``--model`` /
``--num-frames`` and the config file always win."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import videopipe.devices
from videopipe.cli.options import PipelineFlags
from videopipe.config import (
    CPU_DEFAULT_MODEL,
    CPU_DEFAULT_NUM_FRAMES,
    DEFAULT_MODEL,
    PipelineConfig,
    default_model,
    machine_defaults,
)

from .conftest import Run


def _gpu(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    monkeypatch.setattr(videopipe.devices, "cuda_available", lambda: (present, "" if present else "no GPU"))


def test_without_cuda_the_cpu_default_model_and_frames_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu(monkeypatch, False)
    cfg = PipelineFlags().config()
    assert (cfg.model, cfg.num_frames) == (CPU_DEFAULT_MODEL, CPU_DEFAULT_NUM_FRAMES)
    assert CPU_DEFAULT_MODEL != DEFAULT_MODEL and CPU_DEFAULT_NUM_FRAMES < PipelineConfig().num_frames
    assert default_model() == CPU_DEFAULT_MODEL


def test_with_cuda_the_larger_default_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu(monkeypatch, True)
    cfg = PipelineFlags().config()
    assert (cfg.model, cfg.num_frames) == (DEFAULT_MODEL, PipelineConfig().num_frames)
    assert machine_defaults() == {} and default_model() == DEFAULT_MODEL
    # --device cpu on a GPU machine runs on the CPU: the CPU default
    assert PipelineFlags(given={"device": "cpu"}).config().model == CPU_DEFAULT_MODEL
    assert default_model("cpu") == CPU_DEFAULT_MODEL and default_model("cuda:1") == DEFAULT_MODEL


def test_explicit_model_and_frames_win(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu(monkeypatch, False)
    cfg = PipelineFlags(given={"model": "my/model"}).config()
    assert (cfg.model, cfg.num_frames) == ("my/model", CPU_DEFAULT_NUM_FRAMES)
    cfg = PipelineFlags(given={"num_frames": 40}).config()
    assert (cfg.model, cfg.num_frames) == (CPU_DEFAULT_MODEL, 40)
    assert PipelineFlags().config(model="x/y", num_frames=None).model == "x/y"  # a caller's override


def test_the_config_file_wins_over_the_machine_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _gpu(monkeypatch, False)
    toml = tmp_path / "p.toml"
    toml.write_text(f'[pipeline]\nmodel = "{DEFAULT_MODEL}"\nnum_frames = 64\n')
    cfg = PipelineFlags(config_file=toml).config()
    assert (cfg.model, cfg.num_frames) == (DEFAULT_MODEL, 64)  # named in the file, even at the old default
    only_model = tmp_path / "m.toml"
    only_model.write_text('model = "a/b"\n')
    cfg = PipelineFlags(config_file=only_model).config()
    assert (cfg.model, cfg.num_frames) == ("a/b", CPU_DEFAULT_NUM_FRAMES)


@pytest.mark.skipif(videopipe.devices.cuda_available()[0], reason="this machine has a CUDA GPU")
def test_ask_on_this_cpu_machine_asks_for_the_cpu_default(videopipe: Callable[..., Run], video: Path) -> None:
    """The executable, as users run it, offline without the weights: the one error names the
    CPU default; --model overrides it."""
    r = videopipe("ask", str(video), "What happens?")
    assert r.returncode == 2 and CPU_DEFAULT_MODEL in r.stderr and DEFAULT_MODEL not in r.stderr, r.stderr
    r = videopipe("ask", str(video), "What happens?", "--model", DEFAULT_MODEL)
    assert r.returncode == 2 and DEFAULT_MODEL in r.stderr and CPU_DEFAULT_MODEL not in r.stderr, r.stderr
